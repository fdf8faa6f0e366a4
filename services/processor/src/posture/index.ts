// Posture (issue 21): 0–100 scores per asset and tenant, their breakdown and top actions; the job that stores them.

export {
  CATEGORIES,
  CATEGORY_OF_TYPE,
  DEFAULT_POSTURE_OPTIONS,
  categoryOf,
  findingWeight,
  postureOf,
  type AssetPosture,
  type Category,
  type Posture,
  type PostureAction,
  type PostureAssetInput,
  type PostureFinding,
  type PostureOptions,
  type Score,
} from './posture.ts';
export {
  POSTURE_TABLE,
  TENANT_ROW,
  PostureJob,
  computePosture,
  postureRows,
  type PostureJobOptions,
  type PostureJobStats,
  type PostureRun,
} from './job.ts';
