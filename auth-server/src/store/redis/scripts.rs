//! The Lua scripts of the Redis store: every read-modify-write that must be atomic across
//! instances is one script (Redis runs a script without interleaving other commands).

use redis::Script;

/// Lua helpers: `extend` a key's TTL to at least `ttl` seconds (sets it on a key without one),
/// `touch_client` (a dynamic client obtained a code or token), `put_refresh` (stores a refresh
/// token in its family).
const EXTEND: &str = r"
local function extend(key, ttl)
  local t = redis.call('TTL', key)
  if t == -1 or (t >= 0 and t < ttl) then redis.call('EXPIRE', key, ttl) end
end
local function touch_client(dyn, ckey, cid, now, ttl)
  if redis.call('ZSCORE', dyn, cid) then
    local t = redis.call('TTL', ckey)
    if t >= 0 and t < ttl then redis.call('EXPIRE', ckey, ttl) end
    redis.call('ZADD', dyn, 'GT', now + ttl, cid)
  end
end
-- K: refresh token, family, grant, dynamic set, client. A: rec, exp, ttl, digest, client
-- id, now, client ttl. Nothing is stored for a revoked grant.
local function put_refresh(K, A)
  if redis.call('HGET', K[3], 'revoked') == '1' then return 0 end
  redis.call('DEL', K[1])
  redis.call('HSET', K[1], 'rec', A[1], 'exp', A[2])
  local ttl = tonumber(A[3])
  redis.call('EXPIRE', K[1], ttl)
  redis.call('SADD', K[2], A[4])
  extend(K[2], ttl)
  extend(K[3], ttl)
  touch_client(K[4], K[5], A[5], tonumber(A[6]), tonumber(A[7]))
  return 1
end
";

/// KEYS: code, dynamic set, client. ARGV: rec, exp, ttl, client id, now, client ttl.
const PUT_CODE: &str = r"
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'rec', ARGV[1], 'exp', ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
touch_client(KEYS[2], KEYS[3], ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6]))
return 1
";

/// KEYS: code. ARGV: grant id, now. Exactly one caller sees 'fresh'.
const REDEEM_CODE: &str = r"
local g = redis.call('HGET', KEYS[1], 'grant')
if g then return {'replayed', g} end
local exp = redis.call('HGET', KEYS[1], 'exp')
if not exp or tonumber(exp) <= tonumber(ARGV[2]) then return {'unknown'} end
redis.call('HSET', KEYS[1], 'grant', ARGV[1])
return {'fresh', redis.call('HGET', KEYS[1], 'rec')}
";

/// KEYS: grant, family. ARGV: prefix of refresh-token keys, stub ttl.
const REVOKE_GRANT: &str = r"
redis.call('HSET', KEYS[1], 'revoked', '1')
local t = redis.call('TTL', KEYS[1])
if t == -1 then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
local members = redis.call('SMEMBERS', KEYS[2])
for _, d in ipairs(members) do redis.call('DEL', ARGV[1] .. d) end
redis.call('DEL', KEYS[2])
return #members
";

/// KEYS and ARGV: those of `put_refresh` above.
const PUT_REFRESH: &str = r"
return put_refresh(KEYS, ARGV)
";

/// KEYS: refresh token, then PUT_REFRESH's keys for the successor. ARGV: now, then
/// PUT_REFRESH's arguments. Exactly one caller sees 'rotated', and the successor is stored in
/// the same script.
const ROTATE: &str = r"
local exp = redis.call('HGET', KEYS[1], 'exp')
if not exp or tonumber(exp) <= tonumber(ARGV[1]) then return {'unknown'} end
local at = redis.call('HGET', KEYS[1], 'rot')
if at then return {'already', at} end
redis.call('HSET', KEYS[1], 'rot', ARGV[1])
put_refresh({KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]},
  {ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7], ARGV[8]})
return {'rotated'}
";

/// KEYS: refresh token. ARGV: prefix of grant keys. The token's `rec` and `rot`, then its
/// grant's `rec` and `revoked` ('' for absent), or nothing when the token is absent.
pub(super) const REFRESH_WITH_GRANT: &str = r"
local t = redis.call('HMGET', KEYS[1], 'rec', 'rot')
if not t[1] then return {} end
local g = redis.call('HMGET', ARGV[1] .. cjson.decode(t[1])['grant_id'], 'rec', 'revoked')
return {t[1], t[2] or '', g[1] or '', g[2] or ''}
";

/// KEYS: grant link, grant. ARGV: grant id, ttl.
const LINK_JTI: &str = r"
local ttl = tonumber(ARGV[2])
redis.call('SET', KEYS[1], ARGV[1], 'EX', ttl)
extend(KEYS[2], ttl)
return 1
";

/// KEYS: revoked marker, grant link. ARGV: prefix of grant keys.
const JTI_REVOKED: &str = r"
if redis.call('EXISTS', KEYS[1]) == 1 then return 1 end
local g = redis.call('GET', KEYS[2])
if g and redis.call('HGET', ARGV[1] .. g, 'revoked') == '1' then return 1 end
return 0
";

/// KEYS: client, dynamic set. ARGV: rec, ttl, client id, expiry.
const REGISTER: &str = r"
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then
  redis.call('ZADD', KEYS[2], ARGV[4], ARGV[3])
  return 1
end
return 0
";

/// KEYS: dynamic set. ARGV: now.
const COUNT_DYNAMIC: &str = r"
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
return redis.call('ZCARD', KEYS[1])
";

/// KEYS: window. ARGV: limit, window ms. Returns -1 within the limit, else the window's
/// remaining milliseconds.
const SPEND: &str = r"
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if n <= tonumber(ARGV[1]) then return -1 end
local t = redis.call('PTTL', KEYS[1])
if t < 0 then redis.call('PEXPIRE', KEYS[1], ARGV[2]); t = tonumber(ARGV[2]) end
return t
";

/// KEYS: consent, owner list, all. ARGV: JSON, ttl, id, expiry.
const PUT_CONSENT: &str = r"
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[3])
redis.call('EXPIRE', KEYS[2], ARGV[2], 'GT')
redis.call('EXPIRE', KEYS[2], ARGV[2], 'NX')
redis.call('ZADD', KEYS[3], ARGV[4], ARGV[3])
return 1
";

/// KEYS: consent, all. ARGV: id, owner-list key prefix. Exactly one caller gets the record.
const TAKE_CONSENT: &str = r"
local v = redis.call('GETDEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
if not v then return false end
local owner = cjson.decode(v)['owner']
if owner then redis.call('ZREM', ARGV[2] .. owner, ARGV[1]) end
return v
";

/// KEYS: a sorted set of ids scored by expiry. ARGV: now. Drops the expired ids, then lists.
const LIVE_IDS: &str = r"
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
return redis.call('ZRANGE', KEYS[1], 0, -1)
";

/// The compiled scripts (hashed once; `EVALSHA`, with `EVAL` after a Redis restart).
#[derive(Debug)]
pub(super) struct Scripts {
    pub(super) put_code: Script,
    pub(super) redeem_code: Script,
    pub(super) revoke_grant: Script,
    pub(super) put_refresh: Script,
    pub(super) rotate: Script,
    pub(super) jti_revoked: Script,
    pub(super) refresh_with_grant: Script,
    pub(super) link_jti: Script,
    pub(super) register: Script,
    pub(super) count_dynamic: Script,
    pub(super) spend: Script,
    pub(super) put_consent: Script,
    pub(super) take_consent: Script,
    pub(super) live_ids: Script,
}

impl Scripts {
    pub(super) fn new() -> Self {
        let with_helpers = |body: &str| Script::new(&format!("{EXTEND}{body}"));
        Self {
            put_code: with_helpers(PUT_CODE),
            redeem_code: Script::new(REDEEM_CODE),
            revoke_grant: Script::new(REVOKE_GRANT),
            put_refresh: with_helpers(PUT_REFRESH),
            rotate: with_helpers(ROTATE),
            jti_revoked: Script::new(JTI_REVOKED),
            refresh_with_grant: Script::new(REFRESH_WITH_GRANT),
            link_jti: with_helpers(LINK_JTI),
            register: Script::new(REGISTER),
            count_dynamic: Script::new(COUNT_DYNAMIC),
            spend: Script::new(SPEND),
            put_consent: Script::new(PUT_CONSENT),
            take_consent: Script::new(TAKE_CONSENT),
            live_ids: Script::new(LIVE_IDS),
        }
    }
}
