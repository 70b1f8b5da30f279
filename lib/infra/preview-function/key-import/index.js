'use strict';
// Custom resource (Custom::PreviewKeyImport) of lib/infra/preview-key.ts, run by CloudFormation
// through a CDK CustomResourceProvider on the Lambda Node.js runtime (its bundled AWS SDK v3).
//
// Create/Update: reads the preview signing key from Secrets Manager and writes the KeyValueStore
// import document {"data":[{"key":"preview-signing-key","value":"<key>"}]} to a private bucket,
// from which CloudFormation creates the preview KeyValueStore (ImportSource). The bucket expires
// the object after a day. Delete: nothing (the lifecycle rule removes the document).
//
// Why not PutKey on the KeyValueStore API: that API is SigV4a-only, which the JavaScript SDK in
// the Lambda runtime cannot sign without the optional CRT / signature-v4a packages.
// The secret never appears in the response (NoEcho) or in a log line.

const KEY_NAME = 'preview-signing-key';

function importDocument(secretValue) {
  if (typeof secretValue !== 'string' || secretValue.length < 32) throw new Error('preview key is too short');
  return JSON.stringify({ data: [{ key: KEY_NAME, value: secretValue }] });
}

function defaultClients() {
  const { SecretsManagerClient, GetSecretValueCommand } = require('@aws-sdk/client-secrets-manager');
  const { S3Client, PutObjectCommand } = require('@aws-sdk/client-s3');
  const sm = new SecretsManagerClient({});
  const s3 = new S3Client({});
  return {
    getSecret: async (arn) => (await sm.send(new GetSecretValueCommand({ SecretId: arn }))).SecretString,
    putObject: async (bucket, key, body) =>
      s3.send(
        new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: 'application/json' }),
      ),
  };
}

/** The CloudFormation response for one event (exported for tests: no network, injected clients). */
async function run(event, clients) {
  const props = event.ResourceProperties || {};
  const physicalId = `${props.Bucket}/${props.Key}`;
  const base = {
    StackId: event.StackId,
    RequestId: event.RequestId,
    LogicalResourceId: event.LogicalResourceId,
    PhysicalResourceId: event.PhysicalResourceId || physicalId,
    NoEcho: true,
  };
  try {
    if (event.RequestType === 'Create' || event.RequestType === 'Update') {
      const value = await clients.getSecret(props.SecretArn);
      await clients.putObject(props.Bucket, props.Key, importDocument(value));
      return { ...base, PhysicalResourceId: physicalId, Status: 'SUCCESS', Data: { Key: props.Key } };
    }
    return { ...base, Status: 'SUCCESS' };
  } catch (err) {
    // Only the error's name and message (never the event: its properties name the secret).
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

module.exports = { handler, handlerWith, run, importDocument, KEY_NAME };
