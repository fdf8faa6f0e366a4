// The AI asset inventory (issue 21): the `assets` table read per tenant and judged by the inventory policy.

export {
  ASSET_KINDS,
  annotateAssets,
  approvalKindOf,
  assetRef,
  findingAsset,
  isAssetKind,
  judgeAsset,
  type AssetKind,
  type AssetRow,
  type InventoryAsset,
} from './inventory.ts';
export {
  ASSETS_TABLE,
  FINDINGS_LIMIT,
  FINDINGS_TABLE,
  INVENTORY_LIMIT,
  openFindingsPerAsset,
  readAssets,
  readInventory,
  readOpenFindings,
  readTenants,
  type ReadInventoryOptions,
  type StoreQuery,
} from './read.ts';
