-- Round existence checks (functions/routes/rounds.ts): is any node assigned to this round attempt?
-- Answered from this index before the Worker touches a RoundDO, so no request creates one for a
-- round that does not exist (issue 15, fault 5).
CREATE INDEX IF NOT EXISTS assignments_round ON assignments (job_id, round, attempt);
