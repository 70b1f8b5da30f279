/**
 * The headers the portal distribution adds to every `/api/*` origin request (no dependencies:
 * shared by the CDK stack and the API handlers).
 *
 * - `VIEWER_ADDRESS_HEADER`: the viewer's IP address, set by the `/api/*` viewer-request function
 *   from `event.viewer.ip` (it overwrites whatever the viewer sent under that name).
 * - `ORIGIN_VERIFY_HEADER`: an origin custom header whose value is the stack's origin-verify
 *   secret; CloudFront overwrites a viewer header of the same name, so only requests that came
 *   through the distribution carry the right value. The API trusts the viewer address only then.
 */
export const VIEWER_ADDRESS_HEADER = 'x-busdk-viewer-address';
export const ORIGIN_VERIFY_HEADER = 'x-busdk-origin-verify';
