/** The CLI's command table: "group sub" (or a single word) → handler returning an exit code. */
import { nodeInit } from "./node-init.ts";
import { nodeStart } from "./node-start.ts";
import { nodeLedger } from "./node-ledger.ts";
import { nodeAddSource } from "./node-sources.ts";
import { nodeBudget } from "./node-budget.ts";
import { jobCommands } from "./job.ts";
import { modelCommands } from "./model.ts";
import { submitterCommands } from "./submitter.ts";
import { consortiumCommands } from "./consortium.ts";
import { fheTrainCommands } from "./fhe-train.ts";
import { fheServeCommands } from "./fhe-serve.ts";

export type Command = (args: string[]) => Promise<number>;

export const commands: Record<string, Command> = {
  "node init": nodeInit,
  "node start": nodeStart,
  "node ledger": nodeLedger,
  "node add-source": nodeAddSource,
  "node budget": nodeBudget,
  ...jobCommands,
  ...modelCommands,
  ...submitterCommands,
  ...consortiumCommands,
  ...fheTrainCommands,
  ...fheServeCommands,
};
