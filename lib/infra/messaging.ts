import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as ses from 'aws-cdk-lib/aws-ses';
import { Construct } from 'constructs';

export interface EmailConfig {
  /** EMAIL_FROM: the sender address of one-time codes (a plain address, e.g. `no-reply@example.com`). */
  readonly from: string;
  /**
   * What SES verifies: the `address` itself (SES mails a confirmation link to it) or its whole
   * `domain` (publish the three DKIM CNAME records SES shows for the identity). New SES accounts
   * are in the sandbox and may send only to verified recipients until production access is granted.
   */
  readonly identity: 'address' | 'domain';
}

/** The actions SesMailer (lib/aws/mailer.ts, SESv2 SendEmail) needs on the sender identity. */
export const SEND_EMAIL_ACTIONS = ['ses:SendEmail', 'ses:SendRawEmail'] as const;

/**
 * The SES sender of visitor email (one-time sign-in codes): one email identity for the configured
 * address or its domain. Only functions that send mail get `EMAIL_FROM` and may send, and only as
 * this identity.
 */
export class Messaging extends Construct {
  readonly identity: ses.EmailIdentity;
  readonly from: string;

  constructor(scope: Construct, id: string, props: { config: EmailConfig }) {
    super(scope, id);
    const { from, identity } = props.config;
    this.from = from;
    const domain = from.slice(from.lastIndexOf('@') + 1);
    this.identity = new ses.EmailIdentity(this, 'Sender', {
      identity: identity === 'domain' ? ses.Identity.domain(domain) : ses.Identity.email(from),
    });
  }

  /** `EMAIL_FROM` and SendEmail/SendRawEmail on the sender identity only. */
  grantSend(fn: lambda.Function): void {
    fn.addEnvironment('EMAIL_FROM', this.from);
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: [...SEND_EMAIL_ACTIONS],
        resources: [this.identity.emailIdentityArn],
      }),
    );
  }
}
