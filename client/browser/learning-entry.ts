/**
 * The browser node's learning bundle (loaded by the page only when it is selected for a
 * learning round): the agent's learning task (client/agent/tasks/learning.ts) with tfjs on its
 * cpu backend, published for the page's main script as `globalThis.__2pmLearning`.
 */
import { learningInput } from "../agent/tasks/learning.ts";

export interface LearningModule { learningInput: typeof learningInput }

(globalThis as { __2pmLearning?: LearningModule }).__2pmLearning = { learningInput };
