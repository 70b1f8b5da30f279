'use strict';
// Custom resource (Custom::S3PrefixListLookup) of lib/infra/network.ts, run by CloudFormation
// through a CDK CustomResourceProvider on the Lambda Node.js runtime (its bundled AWS SDK v3).
//
// Create/Update: looks up the id of the AWS-managed prefix list of S3 in this region
// (`com.amazonaws.<region>.s3`, the S3 gateway endpoint's destinations) and returns it as
// `PrefixListId`, so a security group can allow HTTPS to S3 and nothing else without a
// synth-time lookup. Delete: nothing.

function defaultClients() {
  const { EC2Client, DescribeManagedPrefixListsCommand } = require('@aws-sdk/client-ec2');
  const ec2 = new EC2Client({});
  return {
    prefixListId: async (name) => {
      const out = await ec2.send(
        new DescribeManagedPrefixListsCommand({ Filters: [{ Name: 'prefix-list-name', Values: [name] }] }),
      );
      const found = (out.PrefixLists || []).find((p) => p.PrefixListName === name);
      if (!found?.PrefixListId) throw new Error(`no managed prefix list named ${name}`);
      return found.PrefixListId;
    },
  };
}

/** The CloudFormation response for one event (exported for tests: no network, injected clients). */
async function run(event, clients) {
  const props = event.ResourceProperties || {};
  const name = `com.amazonaws.${props.Region}.s3`;
  const base = {
    StackId: event.StackId,
    RequestId: event.RequestId,
    LogicalResourceId: event.LogicalResourceId,
    PhysicalResourceId: event.PhysicalResourceId || name,
  };
  try {
    if (event.RequestType === 'Create' || event.RequestType === 'Update') {
      const id = await clients.prefixListId(name);
      return { ...base, PhysicalResourceId: name, Status: 'SUCCESS', Data: { PrefixListId: id } };
    }
    return { ...base, Status: 'SUCCESS' };
  } catch (err) {
    return { ...base, Status: 'FAILED', Reason: `${err.name || 'Error'}: ${err.message}`.slice(0, 500) };
  }
}

// CDK's provider wraps this handler (its nodejs-entrypoint, `useCfnResponseWrapper`): the wrapper
// passes the event with a blanked ResponseURL and sends the CloudFormation response itself, from
// what this returns (PhysicalResourceId, Data, NoEcho) or, on a throw, as FAILED.
function handlerWith(clients) {
  return async (event) => {
    const out = await run(event, clients());
    console.log(JSON.stringify({ requestType: event.RequestType, status: out.Status, reason: out.Reason }));
    if (out.Status === 'FAILED') throw new Error(out.Reason);
    return { PhysicalResourceId: out.PhysicalResourceId, Data: out.Data, NoEcho: out.NoEcho };
  };
}

const handler = handlerWith(defaultClients);

module.exports = { handler, handlerWith, run };
