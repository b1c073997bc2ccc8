#!/bin/sh
# Healthcheck for the compose `mongo` service (a one-node replica set).
# Initiates the replica set on first use, then reports healthy (exit 0) only once this node is
# PRIMARY, i.e. accepts writes and transactions. Safe to run repeatedly and concurrently:
# an already-initialized set is left alone. Configuration (environment of the mongo container):
#   MONGO_REPLICA_SET   replica set name             (default rs0; must match mongod --replSet)
#   MONGO_REPLICA_HOST  member address, as clients   (default mongo:27017; the compose service
#                       on the network reach it       name, so that the driver's discovery works)
set -eu
rs_name="${MONGO_REPLICA_SET:-rs0}"
rs_host="${MONGO_REPLICA_HOST:-mongo:27017}"

exec mongosh --quiet --norc "mongodb://127.0.0.1:27017/admin?directConnection=true&serverSelectionTimeoutMS=3000" --eval "
const name = '${rs_name}';
const host = '${rs_host}';
let initialized = true;
try {
  rs.status();
} catch (e) {
  // 94 NotYetInitialized: first start on an empty volume.
  if (e.code !== 94 && e.codeName !== 'NotYetInitialized') throw e;
  initialized = false;
}
if (!initialized) {
  try {
    rs.initiate({ _id: name, members: [{ _id: 0, host: host }] });
    print('replica set ' + name + ' initiated with member ' + host);
  } catch (e) {
    // 23 AlreadyInitialized: another run got there first.
    if (e.code !== 23 && e.codeName !== 'AlreadyInitialized') throw e;
  }
}
const hello = db.adminCommand({ hello: 1 });
if (hello.setName === name && hello.isWritablePrimary === true) {
  quit(0);
}
print('not PRIMARY yet (setName=' + hello.setName + ', isWritablePrimary=' + hello.isWritablePrimary + ')');
quit(1);
"
