export {
  type AcceptanceOptions,
  type AcceptanceScreenshot,
  type CliChecksRunner,
  runAcceptance,
  type WebChecksRunner,
} from './acceptance-gate.ts';
export { executablePlatform } from './binary-format.ts';
export {
  compareUtf8,
  type DirectoryFileDigest,
  type DirectoryHash,
  directoryDigest,
  hashDirectory,
  sha256File,
} from './hash.ts';
export {
  BINARY_SMOKE_RESULT_SCHEMA,
  type IsolatedSmokeOptions,
  isolatedSmoke,
  type SmokeRequest,
  SmokeRequestSchema,
} from './isolated-smoke.ts';
export {
  duplicateIdProblems,
  kindProblems,
  manifestPathProblems,
  type ParsedManifest,
  parseManifest,
  sourceIncludedProblems,
} from './manifest-check.ts';
export { contentTypeFor, KNOWN_WEB_EXTENSIONS } from './mime.ts';
export {
  isWithin,
  manifestPathProblem,
  relIsWithin,
  type TreeFile,
  type TreeWalk,
  walkCandidate,
} from './paths.ts';
export {
  BROWSER_CANDIDATES,
  type BrowserLookup,
  findBrowser,
  type RenderCheckOptions,
  type RenderCheckResult,
  renderCheck,
} from './render-check.ts';
export {
  MAX_RENDER_RECORDS,
  RENDER_EVIDENCE_MODES,
  type RenderEvidenceMode,
  type RenderRecord,
  RenderRecordSchema,
  renderEvidenceModeFrom,
  renderEvidenceProblems,
} from './render-evidence.ts';
export {
  type BinarySmokeOptions,
  type BinarySmokeResult,
  detectHostPlatform,
  detectNetworkSandbox,
  type NetworkSandbox,
  type RunAttempt,
  SMOKE_SANDBOX_KINDS,
  SmokeRunnerError,
  type SmokeSandboxKind,
  smokeBinary,
  UNREACHABLE_PROXY_ENV,
} from './smoke-binary.ts';
export {
  type HttpResult,
  httpGet,
  type PageReference,
  pageReferences,
  smokeWeb,
  type WebSmokeResult,
} from './smoke-web.ts';
export {
  ARCHIVE_EXTENSIONS,
  archiveFormat,
  assetContentProblem,
  DEFAULT_BUILD_PATH_MARKERS,
  dirPolicyProblem,
  embeddedSourceProblem,
  FORBIDDEN_DIR_NAMES,
  filePolicyProblem,
  findBuildPaths,
  looksLikeGoSource,
  SOURCE_EXTENSIONS,
  SOURCE_FILE_NAMES,
  sourceMapCommentProblem,
} from './source-policy.ts';
export {
  createStaticHandler,
  resolveStaticRequest,
  type StaticOptions,
  type StaticResolution,
  type StaticServer,
  serveStatic,
} from './static-server.ts';
export {
  type BinaryRunner,
  CHECK_NAMES,
  type CheckName,
  DEFAULT_VERIFY_LIMITS,
  PUBLIC_SUMMARIES,
  type VerificationCheck,
  type VerificationReport,
  type VerifyCandidateOptions,
  type VerifyLimits,
  verifyCandidate,
} from './verify-candidate.ts';
