/**
 * The public HTTP API: one Lambda handler module per route. Used by the CDK stack (one function
 * per route) and by the local gateway (same modules, same events).
 */
export interface RouteDef {
  /** Stable id: the Lambda's logical name and the handler file stem. */
  id: string;
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** API Gateway v2 route path with `{param}` segments. */
  path: string;
  /** Handler module path relative to the repository root; exports `handler`. */
  entry: string;
  /** Needs write access to the table (false = read-only grants). */
  writes: boolean;
  /** Starts the build-run state machine (gets `states:StartExecution` on it). */
  startsExecution?: boolean;
  /** Reads published artifacts to presign downloads (gets `s3:GetObject` on artifacts `runs/*`). */
  readsArtifacts?: boolean;
  /** Applies a per-source limit (reads the origin-verify secret to trust the viewer address). */
  perSource?: boolean;
  /** Sends email (needs `ses:SendEmail` on the sender identity, and `EMAIL_FROM`). */
  sendsEmail?: boolean;
}

export const API_ROUTES: RouteDef[] = [
  {
    id: 'CreateRun',
    method: 'POST',
    path: '/api/v1/build-runs',
    entry: 'functions/api/create-run.ts',
    perSource: true,
    writes: true,
  },
  {
    id: 'ListRuns',
    method: 'GET',
    path: '/api/v1/build-runs',
    entry: 'functions/api/list-runs.ts',
    writes: false,
  },
  {
    id: 'SetContact',
    method: 'POST',
    path: '/api/v1/build-runs/{run_id}/contact',
    entry: 'functions/api/set-contact.ts',
    perSource: true,
    writes: true,
    sendsEmail: true,
  },
  {
    id: 'ConfirmContact',
    method: 'POST',
    path: '/api/v1/build-runs/{run_id}/contact/confirm',
    entry: 'functions/api/confirm-contact.ts',
    writes: true,
  },
  {
    id: 'RequestEmailCode',
    method: 'POST',
    path: '/api/v1/sessions/email-code',
    entry: 'functions/api/request-email-code.ts',
    perSource: true,
    writes: true,
    sendsEmail: true,
  },
  {
    id: 'VerifyEmailCode',
    method: 'POST',
    path: '/api/v1/sessions/verify',
    entry: 'functions/api/verify-email-code.ts',
    writes: true,
  },
  {
    id: 'GetRun',
    method: 'GET',
    path: '/api/v1/build-runs/{run_id}',
    entry: 'functions/api/get-run.ts',
    writes: false,
  },
  {
    id: 'PostMessage',
    method: 'POST',
    path: '/api/v1/build-runs/{run_id}/messages',
    entry: 'functions/api/post-message.ts',
    perSource: true,
    writes: true,
  },
  {
    id: 'ListEvents',
    method: 'GET',
    path: '/api/v1/build-runs/{run_id}/events',
    entry: 'functions/api/list-events.ts',
    writes: false,
  },
  {
    id: 'OpenApi',
    method: 'GET',
    path: '/api/v1/openapi.json',
    entry: 'functions/api/openapi.ts',
    writes: false,
  },
  {
    id: 'ListArtifacts',
    method: 'GET',
    path: '/api/v1/build-runs/{run_id}/artifacts',
    entry: 'functions/api/list-artifacts.ts',
    writes: true,
  },
  {
    id: 'DownloadArtifact',
    method: 'GET',
    path: '/api/v1/build-runs/{run_id}/artifacts/{artifact_id}/download',
    entry: 'functions/api/download-artifact.ts',
    writes: true,
  },
  {
    id: 'Checkout',
    method: 'POST',
    path: '/api/v1/build-runs/{run_id}/checkout',
    entry: 'functions/api/checkout.ts',
    writes: true,
  },
  {
    id: 'StripeWebhook',
    method: 'POST',
    path: '/api/v1/webhooks/stripe',
    entry: 'functions/webhooks/stripe.ts',
    writes: true,
    startsExecution: true,
  },
];

/**
 * Routes served only by the local gateway. On AWS downloads are presigned S3 URLs instead.
 */
export const LOCAL_ROUTES: RouteDef[] = [
  {
    id: 'LocalDownload',
    method: 'GET',
    path: '/api/v1/downloads/{token}',
    entry: 'functions/api/local-download.ts',
    writes: false,
  },
];
