#!/bin/bash
# A real S3 store on loopback: single-node Ceph (1 mon, 1 memstore OSD, radosgw), no cephx auth.
# Usage: ceph-rgw-local.sh DIR [MON_PORT] [RGW_PORT]   (defaults 6789, 7480)
# Prints "RGW ready on http://127.0.0.1:RGW_PORT" once the gateway answers, and creates the S3 user
# dvc / DVCACCESSKEY / DVCSECRETKEY123. Stop it: kill $(cat DIR/run/*.pid).
# Needs the Debian packages ceph-mon ceph-osd radosgw ceph-common (tests/s3store.py installs them as root).
# Adapted from the workplace recipe ../shared/recipes/ceph-rgw-local.sh: ports are parameters, and the
# monitor speaks msgr v1 only (on a port other than 6789 a v2 address with auth 'none' is refused, -13).
set -euo pipefail
trap 'echo "ceph-rgw-local.sh: failed at line $LINENO: $BASH_COMMAND (logs: $D/log)" >&2' ERR
D=${1:?usage: ceph-rgw-local.sh DIR [MON_PORT] [RGW_PORT]}; MON_PORT=${2:-6789}; RGW_PORT=${3:-7480}
rm -rf "$D"; mkdir -p "$D"/{mon,osd0,run,log}
FSID=$(python3 -c 'import uuid;print(uuid.uuid4())')
cat > "$D/ceph.conf" <<CONF
[global]
fsid = $FSID
mon host = v1:127.0.0.1:$MON_PORT
ms bind msgr2 = false
public network = 127.0.0.0/8
auth cluster required = none
auth service required = none
auth client required = none
osd pool default size = 1
osd pool default min size = 1
mon allow pool size one = true
osd crush chooseleaf type = 0
mon warn on pool no redundancy = false
ms bind ipv6 = false
run dir = $D/run
log file = $D/log/\$name.log
admin socket = $D/run/\$name.asok
pid file = $D/run/\$name.pid
[mon]
mon data = $D/mon/\$id
[osd]
osd data = $D/osd\$id
osd objectstore = memstore
memstore device bytes = 2147483648
osd max object name len = 460
osd max object namespace len = 64
[client.rgw]
rgw frontends = beast endpoint=127.0.0.1:$RGW_PORT
CONF
C="-c $D/ceph.conf"
# Ceph 16 clients sometimes send their first command before they know the cluster's fsid (the monitor
# answers EPERM, "fsid 0000... != ..."): every client step is retried a few times.
retry() { local i; for i in 1 2 3 4 5 6; do "$@" && return 0; sleep 1; done; "$@"; }
monmaptool --create --addv a "[v1:127.0.0.1:$MON_PORT]" --fsid $FSID "$D/monmap" >/dev/null
ceph-mon --mkfs -i a --monmap "$D/monmap" $C
ceph-mon -i a $C
retry timeout 30 ceph $C status >"$D/log/status.out" 2>&1  # waits for the monitor
OSD_UUID=$(python3 -c 'import uuid;print(uuid.uuid4())')
retry timeout 30 ceph $C osd new "$OSD_UUID" 0 >/dev/null 2>&1  # osd.0 with the uuid its mkfs records
ceph-osd -i 0 --mkfs --osd-uuid "$OSD_UUID" $C 2>>"$D/log/osd-start.err"
retry ceph-osd -i 0 $C 2>>"$D/log/osd-start.err"
retry timeout 30 ceph $C osd crush add-bucket node1 host >/dev/null 2>&1
retry timeout 30 ceph $C osd crush move node1 root=default >/dev/null 2>&1
retry timeout 30 ceph $C osd crush add osd.0 1.0 host=node1 >/dev/null 2>&1
radosgw $C -n client.rgw
for i in $(seq 1 240); do curl -s -o /dev/null "http://127.0.0.1:$RGW_PORT/" && break; sleep 0.25; done
retry timeout 60 radosgw-admin $C user create --uid=dvc --display-name=dvc \
  --access-key=DVCACCESSKEY --secret-key=DVCSECRETKEY123 >/dev/null
echo "RGW ready on http://127.0.0.1:$RGW_PORT"
