// kinesalite answers GetShardIterator AT_TIMESTAMP only when some record of the shard arrived at or
// after the timestamp; otherwise the request never gets a reply (its stream's head() on an empty
// stream). Kinesis answers with an iterator at the shard's tip, so that is what this wrapper does:
// it looks for such a record first and, when there is none, answers as for LATEST. Our recovery
// scan (shared/adapters/kinesis-stream-reader.ts) reads shards it never wrote to this way.
const db = require('kinesalite/db');

module.exports = function wrap(getShardIterator) {
  return function getShardIteratorAtTimestamp(store, data, cb) {
    if (data.ShardIteratorType !== 'AT_TIMESTAMP' || data.Timestamp == null)
      return getShardIterator(store, data, cb);
    let shardIx;
    try {
      shardIx = db.resolveShardId(data.ShardId).shardIx;
    } catch {
      return getShardIterator(store, data, cb);
    }
    const range = { gt: db.shardIxToHex(shardIx), lt: db.shardIxToHex(shardIx + 1) };
    db.lazy(store.getStreamDb(data.StreamName).createReadStream(range), cb)
      .filter((item) => item.value.ApproximateArrivalTimestamp >= data.Timestamp)
      .join((later) => {
        if (later.length > 0) return getShardIterator(store, data, cb);
        const { Timestamp: _unused, ...rest } = data;
        return getShardIterator(store, { ...rest, ShardIteratorType: 'LATEST' }, cb);
      });
  };
};
