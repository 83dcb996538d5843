-- Request nonces moved to the registry shards (durable-objects/registry-shard-do.ts, issue 15):
-- each signed request's nonce is consumed in its node's RegistryShardDO, and nothing reads or
-- writes this table any more. Dropping it removes the last D1 write a heartbeat used to cost.
DROP INDEX IF EXISTS request_nonces_expiry;
DROP TABLE IF EXISTS request_nonces;
