import { RemovalPolicy, SecretValue, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';

export interface PaymentsConfig {
  /** Subscribes this address to the operator topic (SNS sends a confirmation mail first). */
  readonly operatorEmail?: string;
  /**
   * Offer card payment (Stripe Checkout). Off by default: the secrets are blank after the first
   * deploy, so operators store the Stripe values first and then deploy with `cardPayments: true`.
   * While off, visitors see manual approval only.
   */
  readonly cardPayments?: boolean;
}

/**
 * The value the Stripe secrets are created with. It is whitespace on purpose: the handlers read
 * secrets through `envSecret` (lib/aws/stripe-gateway.ts), which trims and treats an empty value
 * as "not configured", so until an operator stores the real value no Stripe call is attempted.
 */
export const STRIPE_SECRET_PLACEHOLDER = ' ';

const ROTATION_REASON =
  'This is a Stripe API credential issued and rotated in the Stripe dashboard, not by AWS: there is no ' +
  'rotation Lambda that could mint a new one. Operators rotate it in Stripe and put the new value here ' +
  '(aws secretsmanager put-secret-value); the handlers re-read it on their next cold start.';

/**
 * Card payments and operator notifications.
 *
 * - Two Secrets Manager secrets, created with a blank placeholder (never a real value in the
 *   template). After the first deploy an operator stores the values:
 *   `aws secretsmanager put-secret-value --secret-id <StripeSecretKeyArn> --secret-string sk_live_…`
 *   and the same for the webhook signing secret (`whsec_…`, from the Stripe webhook endpoint
 *   pointed at `<PortalUrl>/api/v1/webhooks/stripe`). Until then card payment is not available.
 * - An SNS topic for operator notifications (manual approval requests), encrypted with a
 *   customer-managed KMS key (rotation on), publishing only over TLS, optionally with an email
 *   subscription.
 *
 * Grants are per function and per secret: `secretsmanager:GetSecretValue` on exactly the secret
 * the function reads, `sns:Publish` on the topic (plus the KMS data key actions SNS needs).
 */
export class Payments extends Construct {
  readonly stripeSecretKey: Secret;
  readonly stripeWebhookSecret: Secret;
  readonly operatorTopicKey: kms.Key;
  readonly operatorTopic: sns.Topic;
  private readonly cardPayments: boolean;

  constructor(scope: Construct, id: string, props: { stage: string; config: PaymentsConfig }) {
    super(scope, id);
    this.cardPayments = props.config.cardPayments === true;
    const secret = (name: string, what: string) => {
      const s = new Secret(this, name, {
        description: `BusDK Artifact Builder (${props.stage}): ${what} (set after deploy; blank = not configured)`,
        secretStringValue: SecretValue.unsafePlainText(STRIPE_SECRET_PLACEHOLDER),
        removalPolicy: RemovalPolicy.RETAIN,
      });
      Validations.of(s).acknowledge({ id: 'AwsSolutions-SMG4', reason: ROTATION_REASON });
      return s;
    };
    this.stripeSecretKey = secret('StripeSecretKey', 'Stripe secret API key');
    this.stripeWebhookSecret = secret('StripeWebhookSecret', 'Stripe webhook signing secret');

    this.operatorTopicKey = new kms.Key(this, 'OperatorTopicKey', {
      description: `bus-build ${props.stage}: encrypts the operator notification topic`,
      enableKeyRotation: true,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.operatorTopic = new sns.Topic(this, 'OperatorTopic', {
      displayName: `bus-build ${props.stage} operator notifications`,
      masterKey: this.operatorTopicKey,
      enforceSSL: true,
    });
    if (props.config.operatorEmail) {
      this.operatorTopic.addSubscription(new subscriptions.EmailSubscription(props.config.operatorEmail));
    }
  }

  /** `STRIPE_SECRET_KEY_ARN` and GetSecretValue on the Stripe API key (checkout, capture, cancel). */
  grantStripeKey(fn: lambda.Function): void {
    fn.addEnvironment('STRIPE_SECRET_KEY_ARN', this.stripeSecretKey.secretArn);
    fn.addEnvironment('STRIPE_ENABLED', String(this.cardPayments));
    readSecret(fn, this.stripeSecretKey);
  }

  /**
   * `STRIPE_SECRET_KEY_ARN` only, without read access: handlers that merely list the payment
   * methods a run offers (GetRun) decide "card available" from `STRIPE_ENABLED` and the ARN.
   */
  advertiseCard(fn: lambda.Function): void {
    fn.addEnvironment('STRIPE_SECRET_KEY_ARN', this.stripeSecretKey.secretArn);
    fn.addEnvironment('STRIPE_ENABLED', String(this.cardPayments));
  }

  /** `STRIPE_WEBHOOK_SECRET_ARN` and GetSecretValue on the webhook signing secret. */
  grantWebhookSecret(fn: lambda.Function): void {
    fn.addEnvironment('STRIPE_WEBHOOK_SECRET_ARN', this.stripeWebhookSecret.secretArn);
    readSecret(fn, this.stripeWebhookSecret);
  }

  /** `OPERATOR_TOPIC_ARN` and sns:Publish on the topic (with the key use SNS needs for it). */
  grantNotify(fn: lambda.Function): void {
    fn.addEnvironment('OPERATOR_TOPIC_ARN', this.operatorTopic.topicArn);
    // Like topic.grantPublish, but with the two KMS actions SNS uses instead of kms:GenerateDataKey*.
    fn.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['sns:Publish'], resources: [this.operatorTopic.topicArn] }),
    );
    fn.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
        resources: [this.operatorTopicKey.keyArn],
      }),
    );
  }
}

function readSecret(fn: lambda.Function, secret: Secret): void {
  fn.addToRolePolicy(
    new iam.PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: [secret.secretArn] }),
  );
}
