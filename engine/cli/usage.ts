import { VERSION } from '../version.ts';

export const USAGE = `legate ${VERSION}: an ambassador proxy; shards Redis keys like twemproxy, on every core.

Usage:
  legate [run] -c FILE [options]       serve the pools in FILE (nutcracker.yml or legate.yml)
  legate -t -c FILE                    check FILE and exit
  legate locate -c FILE [--pool NAME] [KEY...]
                                       print KEY<TAB>POOL<TAB>SERVER for each key
                                       (keys from standard input, one a line, when none given)
  legate demo [-w N]                   the seed's ambassadors on 127.0.0.1 in one process, each in
                                       front of backends it starts: Redis on 6379 (three shards),
                                       the broker on 5432 (PostgreSQL, else an echo service), the
                                       A/B splitter on 80 (else 8080), the breaker on 8001
  legate top [--admin ADDR:PORT] [--interval MS] [--once]
                                       live view of a running legate (from its admin server):
                                       per pool and server ops/s, errors/s, p50/p99/max latency,
                                       connections, ejections; --once prints one plain frame

Options (nutcracker's letters where nutcracker has the flag):
  -h, --help                 this help
  -V, --version              print the version and exit
  -t, --test-conf            test the configuration for syntax errors and exit
  -c, --conf-file=FILE       configuration file (default: $LEGATE_CONFIG)
  -w, --workers=N            data-plane worker threads (default: $LEGATE_WORKERS, the config's
                             'workers', else one per core)
  -v, --verbose[=N]          log more: -v is debug; nutcracker's levels N (0-11) map to
                             error (<=3), warn (4), info (5), debug (6-7), trace (>=8)
  -s, --stats-port=PORT      twemproxy stats port (default 22222; 0: any free port)
  -a, --stats-addr=ADDR      stats address (default 127.0.0.1, loopback only)
  -i, --stats-interval=MS    how often workers report their numbers (default 1000); recent
                             latency in /stats and 'top' spans ten of them
  -D, --describe-stats       print the stats fields and what they mean, and exit
  -o, --output=FILE          append the log to FILE rather than standard output
  -p, --pid-file=FILE        write the process id to FILE while running
  -m, --mbuf-size=N          accepted for nutcracker compatibility; no effect (legate has no mbufs)
  -d, --daemonize            refused: run legate under a supervisor (systemd, a container)
      --admin=ADDR:PORT      admin server address (default: $LEGATE_ADMIN, else 127.0.0.1:9909)
      --log-format=FORMAT    json or pretty (default: $LEGATE_LOG_FORMAT, else pretty on a
                             terminal and json otherwise; -o files always get json)
      --pool=NAME            with 'locate': the pool (needed when the file has several)
      --interval=MS          with 'top': how often to poll and redraw (default 1000)
      --once                 with 'top': print one frame without terminal control codes, exit

Environment: LEGATE_CONFIG, LEGATE_WORKERS, LEGATE_LOG_LEVEL, LEGATE_LOG_FORMAT, LEGATE_ADMIN.
`;
