-- 2PM coordinator schema: node registry, job catalogue, replay nonces, assignments.

CREATE TABLE IF NOT EXISTS nodes (
  id              TEXT PRIMARY KEY,          -- hex(SHA-256(identity_key))[0:32]
  identity_key    TEXT NOT NULL UNIQUE,      -- base64url Ed25519 public key
  kx_key          TEXT NOT NULL,             -- base64url X25519 public key
  label           TEXT,
  cores           INTEGER NOT NULL,
  memory_mb       INTEGER NOT NULL,
  bandwidth_mbps  REAL NOT NULL,
  avail_from      INTEGER,                   -- UTC hour, NULL = always
  avail_to        INTEGER,
  load            REAL,
  free_memory_mb  INTEGER,
  on_battery      INTEGER,
  online          INTEGER NOT NULL DEFAULT 1,
  registered_at   INTEGER NOT NULL,          -- Unix ms
  last_seen       INTEGER NOT NULL,          -- Unix ms
  rounds_ok       INTEGER NOT NULL DEFAULT 0,
  rounds_failed   INTEGER NOT NULL DEFAULT 0,
  reliability     REAL NOT NULL DEFAULT 0.5  -- (ok + 1) / (ok + failed + 2)
);
CREATE INDEX IF NOT EXISTS nodes_last_seen ON nodes (last_seen);

CREATE TABLE IF NOT EXISTS node_datasets (
  node_id     TEXT NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
  schema_id   TEXT NOT NULL,
  rows        INTEGER NOT NULL,
  commitment  TEXT NOT NULL,
  updated_at  INTEGER NOT NULL,
  PRIMARY KEY (node_id, schema_id)
);
CREATE INDEX IF NOT EXISTS node_datasets_schema ON node_datasets (schema_id, rows);

CREATE TABLE IF NOT EXISTS jobs (
  id          TEXT PRIMARY KEY,
  type        TEXT NOT NULL,
  schema_id   TEXT NOT NULL,
  status      TEXT NOT NULL,
  round       INTEGER NOT NULL DEFAULT 0,
  attempt     INTEGER NOT NULL DEFAULT 0,
  label       TEXT,
  error       TEXT,
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_created ON jobs (created_at);

-- Nonces of signed requests, kept for the signature window; a duplicate insert is a replay.
CREATE TABLE IF NOT EXISTS request_nonces (
  node_id     TEXT NOT NULL,
  nonce       TEXT NOT NULL,
  expires_at  INTEGER NOT NULL,
  PRIMARY KEY (node_id, nonce)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS request_nonces_expiry ON request_nonces (expires_at);

-- Open round assignments, written by the JobDO, long-polled by nodes.
CREATE TABLE IF NOT EXISTS assignments (
  node_id     TEXT NOT NULL,
  job_id      TEXT NOT NULL,
  round       INTEGER NOT NULL,
  attempt     INTEGER NOT NULL,
  party       INTEGER NOT NULL,
  manifest    TEXT NOT NULL,
  log_hash    TEXT NOT NULL,
  status      TEXT NOT NULL DEFAULT 'open',  -- open | closed
  created_at  INTEGER NOT NULL,
  expires_at  INTEGER NOT NULL,
  PRIMARY KEY (node_id, job_id, round, attempt)
);
CREATE INDEX IF NOT EXISTS assignments_open ON assignments (node_id, status);
