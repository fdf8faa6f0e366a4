import { content } from './content.ts';
import { denialOfWallet } from './denial-of-wallet.ts';
import { excessiveAgency } from './excessive-agency.ts';
import { exfiltration } from './exfiltration.ts';
import { shadowAi } from './shadow-ai.ts';
import { silentModelChange } from './silent-model-change.ts';
import { toxicCombination } from './toxic-combination.ts';
import type { Detector } from './types.ts';

/** Every behavioural detector, in the order they run per event. */
export const DEFAULT_DETECTORS: readonly Detector[] = Object.freeze([
  content,
  excessiveAgency,
  toxicCombination,
  exfiltration,
  shadowAi,
  silentModelChange,
  denialOfWallet,
] as Detector[]);
