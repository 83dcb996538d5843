/** A node declines a round's task (bad task, schema mismatch, missing data). Not a protocol fault. */
export class TaskRejected extends Error {
  constructor(readonly code: string, detail: string) {
    super(detail);
    this.name = "TaskRejected";
  }
}
