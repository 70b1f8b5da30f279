/**
 * The API handlers' name for the one function construct (kept for existing imports); see
 * `build-function.ts`.
 */
export {
  BuildFunction as ApiFunction,
  type BuildFunctionProps as ApiFunctionProps,
} from './build-function.ts';
