export { DeploymentBookkeeping, type FinalState, type MissingRecord } from './bookkeeping.js';
export { createGitHubClient, explainGitHubError, DEPLOYMENTS_PERMISSION, type GitHubClient, type GitHubClientOptions } from './client.js';
export { deployedRef, deploymentRecordsFor, runUrlFrom, type RecordsMode } from './factory.js';
export { GitHubDeploymentRecords } from './github-records.js';
export { DEFAULT_LEDGER_FILE, LedgerDeploymentRecords } from './ledger.js';
export { IrreversibleReleaseError, manualRollback, type ManualRollbackOutcome, type ManualRollbackRequest, type Redeploy } from './manual-rollback.js';
export * from './records.js';
