"""The lake against plain DuckDB and against DuckLake, on the same files, in the same run.

Every case is timed for each side alternately and reported as medians; ``ratio`` is the
lake's time over plain DuckDB's (lower is better), and each row also carries DuckLake's
times (``ducklake_*``, and ``ducklake_*_ratio`` against plain DuckDB). Sides:

* **plain DuckDB**: ``COPY (SELECT * FROM read_json(file)) TO 'f.parquet'`` and queries over
  that file; the floor nothing with a catalog can beat.
* **DuckLake** 1.5.5 (the ``duckdb-extension-ducklake`` wheel pinned to our duckdb) with its
  catalog in a DuckDB file, in SQLite, and in PostgreSQL (``ducklake_duckdb``,
  ``ducklake_sqlite``, ``ducklake_pg``).
* **the lake** on the embedded default (local folder + SQLite, ``ours_s``) and on a local
  folder + PostgreSQL (``lake_pg_s``).

Cases (``scale`` 1.0 = 1,000,000 JSON log lines, about 250 MB; ``make bench`` runs 0.1):

* ``ingest N days, whole process``: a fresh process per run (``lake ingest logs`` /
  ``python -c`` for DuckDB and DuckLake), for files spanning 1, 28 and 60 days.
* ``append +10%``: a 10% file after the first ingest, whole process.
* ``100-row append``: one call each (``lk.write_table`` and ``lk.ingest_logs`` of a 100-line
  file against DuckLake's ``INSERT``), in-process; medians of the first and the last ten of
  APPENDS appends, to show whether it stays flat as history grows.
* ``10-day GROUP BY after the appends``: over the appended table, against one file of the
  same rows (plain DuckDB) and DuckLake's table.
* ``count at the first version``: time travel, warm, in-process.
* ``first 10-day query in a new process``: whole process, start-up included (where its
  start-up goes and what was cut: ``bench_cli``'s docstring).

Read the load (``uptime``) before believing a figure: these are shared 2-core machines.

``duckdb_same_work`` (in the ingest rows) is DuckDB made to keep what the lake keeps, in one
process: types from every line (``json_group_structure`` over all of them), each line's
text and number, one folder per event day (:func:`same_work_sql`). It is the honest floor
for an ingest that keeps ``_raw``/``_line`` and reads types from every line; plain DuckDB's
COPY samples 20,480 lines and keeps neither.

Profile of the 60-day ingest (issue 18; 1M lines, 153 MB, December 2026; ``py-spy record
--threads --native`` and ``perf record -g`` of the whole process; CPU-seconds because the
machine's load was 3-20 during the work):

* Before: the in-process ingest took 3.9 CPU-s (user 3.07, system 0.82), staging 3.0 of
  it. ``perf`` shares: pyarrow's JSON reader about 22%; the Python interpreter 25% (imports
  0.45-0.5 CPU-s, pandas among them, imported by pyarrow's first ``pa.array`` of a list);
  the kernel 17%, half of it zeroing pages (``clear_page_erms``: the default mimalloc pool
  handed each 16 MiB chunk back and faulted it in again); zstd, LZ4 and the Parquet encoder
  10%; the garbage collector 5-7% (0.14 s of it the interpreter's last collection at exit);
  sha256 3%.
* Per thread: the main thread was the critical path. The reader thread (read, sha256, line
  cutting) waited on its full queue 40% of its time and the encoder thread half of its;
  the main thread spent 0.57-0.72 s in pyarrow's reader, 0.47 s in the instant checks
  (a regex over every string column of every chunk), 0.2 s in schema checks, 0.2 s
  conforming and splitting by day. ``writer_options`` is no longer there: its encodings
  are decided once per schema.
* Changed: Arrow buffers come from jemalloc while staging (system time 0.82 -> 0.45 s, peak
  memory 534 -> 495 MB); objects alive before the ingest are frozen out of the collector's
  walks, and the CLI skips the exit collection (0.17 -> 0.03 s); a string column whose
  smallest and largest values start with no digit skips the instant regex; JSON chunks
  are parsed on a thread of their own, one chunk ahead of the main thread. Staging
  3.0 -> 2.5 CPU-s; the whole command 4.85 -> 4.16 CPU-s (user + system, medians of 3
  alternating in one run at load 15, against 1.31 for DuckDB's COPY process: 3.7x -> 3.2x
  DuckDB's CPU); whole process alternating with DuckDB in one run at load 13-16, medians
  of 5: 3.46x -> 3.08x DuckDB's time. Staging a 2.1 GB file (14M lines): 33.0+4.2 CPU-s
  and 468 MB at peak, against 33.1+5.7 CPU-s and 535 MB with the default pool.
* DuckDB itself, keeping the same things (load about 3): ``DESCRIBE read_json(f,
  sample_size=-1)`` alone took 1.77 s against 0.84 s for the whole plain COPY (its
  detection over every line runs on one thread); ``json_structure`` grouped over all lines
  1.9 s; typed + raw columns 1.46 s, with ``row_number()`` for ``_line`` 1.93 s. A fast path
  where DuckDB parses and writes would therefore not beat today's path on these files
  while keeping what the lake keeps (see ``duckdb_same_work``): the gap to plain DuckDB is
  the work plain DuckDB leaves out, plus start-up.

Second pass (issue 18 ingest, December 2026; ``perf record -g`` of the ingest alone,
in-process, and per-thread CPU from ``/proc``; the machine's load was 9-30 throughout, so
only CPU-seconds and ratios within one run are given):

* Found: every JSON chunk after the first was parsed twice. The reader hint (types already
  known, which spare pyarrow its inference) left out timestamps, pyarrow then guessed the
  ``ts`` strings as timestamps, and the chunk was read again with them as strings: 36
  ``read_json`` calls for 10 chunks, 1.6 CPU-s of pyarrow's threads where one read is 0.85.
  The hint now names top-level time fields as strings (typed after, by the same ISO 8601
  rule); a hinted field a chunk lacks is dropped, as reading without the hint would have
  it, and a column whose blocks come out typed apart goes to the exact reader. Staging
  imports DuckDB only when a ``--time-format`` needs it (0.06 CPU-s of start-up).
* Measured, main against this code alternating in one run (load 22-30): whole command
  (user + system, medians of 3) 4.40 -> 3.56 CPU-s on the 60-day file and 4.58 -> 3.54 on
  the 1-day one, against 1.27-1.29 for DuckDB's COPY process (3.4-3.6x -> 2.8x DuckDB's
  CPU); in-process 3.5-3.7 -> 2.3-2.8 CPU-s on 1-, 28- and 60-day files.
* Where the in-process 60-day ingest's 2.34 CPU-s go now: pyarrow's JSON parser 0.89 (its
  two pool threads); the Parquet encoder thread 0.64 (zstd of ``_raw`` about 0.25, LZ4 of
  the rest 0.07, dictionaries and statistics the remainder); the reader thread 0.33
  (splitting lines 0.13, sha256 0.08, reads); the parse-ahead thread besides the parser
  0.21 (the instant regex 0.07, casts and min/max of the time column 0.12); the main thread
  0.24 (conforming, splitting by day, queueing row groups, in Python). The parser and the
  encoder alone are 1.5 CPU-s, more than DuckDB's whole COPY (1.1-1.3). The command's
  start-up is another 1.0-1.1 CPU-s on a fresh catalog: imports about 0.8 (SQLAlchemy's ORM
  and the catalog 0.29; pyarrow and numpy 0.15; pandas 0.2, imported by pyarrow itself at
  its first conversion of any Python value: ``pa.array`` of a list, ``pa.scalar``, a
  compute function given an int; typer, rich), and creating the catalog (Alembic's import
  0.12, the migrations 0.14).
* Tried and dropped: ``_raw`` in LZ4 instead of zstd (-0.10 CPU-s per 1M rows, files 27%
  larger), zstd level -1 / -5 for ``_raw`` (-0.035 / -0.05 CPU-s, 11% / 35% larger): not
  worth changing the stored default; ``write_batch_size`` 32,768 or 65,536 (no gain /
  worse); jemalloc keeping freed pages 10 s or for ever (system time within noise, peak
  memory +20 MB); pyarrow's JSON blocks of 1, 4 or 16 MiB, threaded or not (0.086-0.092
  CPU-s per 16 MiB with the hint, all alike); keeping pandas out (every conversion of a
  Python value by pyarrow imports it, 0.15-0.2 CPU-s of the command; a dozen call sites on
  the ingest path and in deltalake). DuckDB's ``read_json`` given the columns parses a
  16 MiB chunk to Arrow in 0.057 CPU-s against pyarrow's 0.088 (about -0.3 CPU-s on 1M
  lines), but its handling of conflicts, numbers beyond 64 bits and duplicate keys differs
  from the exact reader's: it would need its own equivalence checks, not done here.

Third pass (issue 18 ingest, December 2026): where the cores sit idle. A timeline of the
in-process 60-day ingest: per-thread CPU from ``/proc/self/task/*/stat`` every 20 ms, and
the start and end of each chunk's read, parse and conform and of each encoder job (the
load was 2 for the first runs, then 4-20 from other helpers' suites, so what follows is
given in CPU-seconds of work where it can be):

* Found. In the middle of the ingest both cores were busy (1.6-2.2 CPU-s per second at load
  2); they were not at the ends. (1) The end: the days of the last two chunks were encoded
  after the last parse, on the one encoder thread, with the other core idle: 0.11-0.27
  CPU-s of encoding (medians 0.19 on the 60-day file, 0.22 on the 28-day one; 0.25-0.3 s of
  a 1.7 s ingest at load 2 with one core busy). A day of the 60-day file (16,700 rows) never
  fills a row group, and its rows went to the encoder only once two batches had passed
  without it; so the encoder also started late (after the third batch, 0.4 s in). (2) A
  line straddling two 16 MiB reads became a one-line chunk of its own: 18 batches for 10
  chunks, each one-line batch 1-2 ms of the parse thread and 5-13 ms of the main thread
  (conforming, event times, and the two-batch rule above counting it as a batch): left so,
  see below. (3) After staging, ``land`` ran 0.07-0.1 s on one thread: publishing (hard
  links; reading the 60 footers and their statistics again, 23 ms), the Delta commit (26
  ms), the catalog's record
  (30-40 ms, most of it SQLAlchemy compiling statements: its cache is per engine, so cold
  in a new process or connection). (4) ``perf`` of the stage: 7-8% of its samples are the
  kernel zeroing fresh pages; about half of that under Parquet's column writers, which
  allocate from Arrow's C++ default pool (mimalloc) whatever ``pa.set_memory_pool`` says
  (the jemalloc switch of the first pass covers pyarrow's own buffers only). The rest of
  the CPU is as the second pass found it (pyarrow's JSON parser, zstd of ``_raw``).
* Changed: (1) two encoder threads; each staged file is given to one of them when it opens,
  in turn, so its row groups stay in order and a partition has no more files than before
  (the two threads of an earlier round alternated row groups between two files per
  partition, and were dropped for it). (2) When a batch's days come in order, the days
  before its last go to the encoders as soon as it is written (the two-batch rule stays for
  days out of order). Staged rows, types, ``_raw``, ``_line``, ``_error``, event dates,
  files, row groups, drift and the file reports are the same as main's on the 1-, 28- and
  60-day files (compared column for column, sorted by ``_line``). Peak memory staging
  ``bench_ingest_logs``' nested file of 2M lines (582 MB, 10 days): 393-400 -> 449 MB (the
  second encoder's buffers; a queue of two row groups per thread instead of four changed
  nothing).
* Measured, main against this code alternating (fresh processes, load 12-15 for this line,
  the straddle join below still in): encoding left after the last parse, 60-day file: 0.23
  / 0.19 / 0.11 CPU-s on one thread -> 0.11 / 0.11 / 0.10 split over two (0.05-0.06 each);
  28-day: 0.27 / 0.22 / 0.14 -> 0.11 / 0.11 / 0.19 over two; 1-day: unchanged (0.09-0.24 on
  one thread: one file at a time).
  In-process wall and CPU (fresh processes, each after a warm-up ingest of 20,000 lines;
  main, this code and DuckDB's COPY alternating; medians of 5; load 1.6-2.8, most of it the
  bench itself), the final code: 60 days 2.22 -> 2.12 s, CPU 3.72 -> 3.56 s, DuckDB 0.79 s
  and 1.42 CPU-s (per-round ratios to DuckDB 2.69 -> 2.74); 28 days 1.58 -> 1.52 s, CPU
  2.63 -> 2.64, DuckDB 0.62 s (2.63 -> 2.48); 1 day 1.55 -> 1.60 s, CPU 2.74 -> 2.74,
  DuckDB 0.62 s (2.54 -> 2.54). An earlier run with the straddle join below (load 2.2-3.4):
  60 days 2.00 -> 1.73 s (3.10x -> 2.69x DuckDB's time by medians, per round 2.83 -> 2.86),
  28 days 1.80 -> 1.69 s (2.66 -> 2.54), 1 day 1.49 -> 1.44 s (2.23 -> 2.15), CPU the same.
  In one quiet timeline each, the stage's ``finish`` (the last files closed) took 0.17 s on
  main and 0.05 s here. So the tail is shorter, worth about 0.1 s of a 60-day ingest in
  principle (half of 0.2 s of one core's work moved to the idle one), and that is inside
  the noise of five rounds; the CPU is the same. At load 4-20 (other suites running) the
  same A/B said nothing (60 days, per-round medians 2.60 -> 3.00 at load 4-5, 2.84 -> 1.94
  in seven rounds at load 3-5): other processes fill an idle core there anyway. What
  bounds the ingest now is its work, not the overlap: 2.5-3.1 CPU-s against DuckDB's
  1.1-1.2 (2.2-2.6x), so even perfect use of both cores gives about 0.4-0.45x DuckDB's
  throughput; 0.8x needs the parser and the encoder to do half the work (the second
  pass's DuckDB ``read_json`` with its own equivalence checks is the largest piece left).
* Not done, for a next pass: a 1-day file is one Parquet file, encoded on one thread, and
  the encoder's queue (up to four row groups) is what is left after the last parse;
  pyarrow's writer does not expose Arrow's parallel column writing
  (``ArrowWriterProperties::set_use_threads``). Publishing could take the footers from the
  writers (``metadata_collector``) instead of reading them again (10 ms for 60 files); the
  catalog's record and prepare could run while the encoders finish, which needs the stage
  to hand over before its files are closed. ``ARROW_DEFAULT_MEMORY_POOL=jemalloc`` set by
  the command before pyarrow loads would put Parquet's pages in jemalloc too: three runs
  each at load 16 told nothing (user 2.55-2.98 / 2.64-3.16 CPU-s, system 0.55-0.73 /
  0.60-0.85), not adopted.
* Tried and dropped: joining the straddling line to the next block (a 2 ms copy of 16 MiB
  on the reader thread) to do away with the one-line batches: peak memory on the 2M-line
  file 389-400 -> 494-514 MB with one encoder thread (two 16 MiB buffers a block, which
  glibc then keeps in the reader thread's arena), for a gain too small to see in wall time;
  the A/B above was run with it in, and the final code was checked for the same staged
  output again.

Fourth pass (issue 18 ingest CPU, 2026-12-06; 1M lines, 153 MB, 1 and 60 days; load 4-23
from other helpers' suites, so CPU-seconds, medians of alternating fresh processes):

* Where it goes now. Whole ``lake ingest logs`` 2.6-2.9 CPU-s against 1.0-1.2 for DuckDB's
  COPY process (``perf record -g``, 60 days, per thread): start-up and the catalog 0.6
  (main thread before the first read), pyarrow's JSON parser 0.9 (its pool's two
  threads), the two encoders 0.7 (zstd of ``_raw`` 0.26 of it: encoding ``_raw`` alone is
  0.052 CPU-s per 200,000 rows, 0.014 of that without compression), the reader 0.34
  (line splitting, sha256, UTF-8 checks), the parse thread's checks 0.23, the main
  thread's conforming 0.15, publishing and the commit 0.11. The kernel is 18-20% (user
  2.3-2.4, system 0.45-0.6): 106,000 page faults a run, zeroing fresh pages.
* Tried and dropped. (1) pyarrow's reader on one thread per chunk with two chunks parsed
  at once (a two-thread pool in the stage, in order, hint taken when each parse starts):
  alone, one 16 MiB chunk is 15-18% cheaper on one thread than through pyarrow's pool
  (0.093 against 0.110 CPU-s, 12 alternating reads), but in the whole stage it saved
  0-3% (stage CPU, nine runs a side: 60 days 2.22 -> 2.17 and 2.11 -> 2.15, 1 day 1.97 ->
  1.92 and 1.97 -> 1.91), inside the noise, and the quietest round's 60-day wall was
  worse (1.3-1.7 -> 1.9-2.4 s). Staged output was identical on the bench files and on
  adversarial files (the differential tests in ``tests/ingest/logs/test_chunking.py``).
  (2) Allocator settings, whole process, three runs each: ``MIMALLOC_PURGE_DELAY=-1``,
  ``ARROW_DEFAULT_MEMORY_POOL=jemalloc`` (more faults: 115-129k), glibc's
  ``MALLOC_MMAP_THRESHOLD_``/``MALLOC_TRIM_THRESHOLD_``, no large OS pages: page faults and
  CPU within noise of the default. (3) ``_raw`` codecs (200,000 rows): zstd 1 0.052 CPU-s
  4.1 MB, zstd -1 0.049 / 5.3 MB, zstd -3 0.041 / 6.8 MB, LZ4 0.038 / 7.0 MB, 8 MiB or
  64 KiB pages no change: at most -0.07 CPU-s per 1M rows for a 70% larger ``_raw``.
  (4) DuckDB parsing the lines: ``json_transform_strict(line, <our types>)`` over the
  chunk's Arrow strings, one thread, is 0.047 CPU-s per 16 MiB against pyarrow's 0.093
  (``read_json`` of a file with ``columns``: 0.062), so it would cut about 0.4 CPU-s of the
  ingest, but it cannot be made sure cheaply. It errors on a missing key (so sparse logs
  would fall back), on duplicate keys, on integers beyond 64 bits into BIGINT, on invalid
  surrogates; and it silently converts what the exact reader keeps apart: 1.5 into BIGINT
  becomes 2, "7" becomes 7, true becomes 1 (or 1.0), numbers, booleans, objects and
  arrays into VARCHAR become their text, a key unknown inside a struct is dropped,
  ``NaN`` and a trailing comma are accepted. Knowing that no value needed such a
  conversion takes a check per value: ``json_type(line, [the 7 paths])`` compared with the
  expected types is another 0.045 CPU-s per 16 MiB (one ``json_type`` per path: 0.106),
  so transform and check (0.096) cost what pyarrow does, before unknown keys are even
  looked for. A DuckDB path needs its own parser guarantees first.
* Found on the way: the chunking differential test set ``CHUNK_BYTES`` only, but lines are
  cut from what one read gives (16 MiB), so every corpus file was one chunk on both sides
  and the test could not fail. With small reads as well (224 chunks for the drifting
  file) rows, types and the ledger agree, the drift does not: a column that widens inside
  one chunk (int, then float from line 21,001) is recorded "added double" at line 1 when
  its lines share a chunk, "added int64" then "widened" at 21,001 when they do not, so the
  ledger depends on where 16 MiB reads fall (left as a strict xfail).

Fifth pass (issue 18, the parts of a whole ``lake ingest logs`` that are not the JSON parser,
2026-12-07; the machine's load was 15-30 from other helpers' suites throughout, so CPU-
seconds of fresh processes alternating with main's code, and direct measures of the step
changed where a whole-command figure cannot show it):

* Start-up, where it goes now. ``-X importtime`` of a 100-line ingest into a new catalog
  (minimum self time of 7 runs): 385 ms of imports, of which SQLAlchemy 95 (and asyncio,
  ssl, email that only it imports, ~15 more), pyarrow 64 (``pyarrow.compute`` building its
  wrappers 34 of it), numpy 33, the lake's own modules 70 (ingest 25, lake 24, catalog 21),
  rich 19, typer 12, deltalake 9. As processes (``python -c "import X"``, medians of 7):
  ``pass`` 0.027 CPU-s, ``sqlalchemy`` 0.21-0.25, with ``catalog.catalog`` 0.26-0.29, pyarrow
  with compute and parquet 0.16-0.18, typer 0.07, rich 0.07, deltalake 0.06. Checked and
  already so: a JSON ingest imports no Alembic (a new catalog is made at head, one at head is
  checked with one query), no pandas, pydantic, ``sqlalchemy.orm``, DuckDB,
  ``pyarrow.dataset`` or sqlglot, on the 100-line file and on the 1M-line 1- and 60-day files
  (``sys.modules`` at the end); ``zstandard`` and ``bz2`` at the top of ``ingest.sources`` cost
  nothing measurable (0.144 / 0.147 CPU-s minimum with and without). What is left to cut
  is SQLAlchemy's Core, about 0.2 CPU-s of every writing command: only writing the catalog
  through the DB-API (as ``catalog.reader`` reads it) removes it, which is the catalog's
  whole write path (tables, versions, runs, edges, ledger, schemas, leases, recording, pins,
  registry, on two dialects, with the retries of ``catalog.database``): not this pass.
* Tried and dropped: the end of the process. After the command, with the last collection
  already skipped, Python's end (taking ~600 modules apart) was 33-44 ms of CPU (process CPU
  minus CPU at the end of ``main``). Leaving by ``os._exit`` after the exit handlers and a
  flush (the usual end when DuckDB is loaded, a thread that is not a daemon is alive, or a
  stream cannot be flushed) took the CPU after the last exit handler from 38 to 21 ms on a
  100-line ingest and from 42 to 40 ms on the 60-day file (medians of 9 alternating, load
  27; what is left is the kernel freeing the process's memory). Not adopted: it needs
  ``atexit._run_exitfuncs``, a private function of the standard library, and it skips the
  flush of any file a library left open and unclosed, a loss no test of ours could rule out,
  for 17 ms of a 0.5-0.6 CPU-s command.
* Publishing read the footer of every staged file back (``pq.read_metadata``) for its Delta
  statistics. The stage's writers now keep the footer they wrote (``metadata_collector``,
  ``BoundedWriter.metadata``), the staged file carries it (``StagedFile.footer``), and the
  footer is read back only for files staged elsewhere (Ray, ``write_table``). Publishing's
  footer and statistics step, thread CPU, medians of 15 (load 25): 60-day file (60 files)
  19.7 -> 8.5 ms, 1-day (1 file) 1.6 -> 1.0 ms; the statistics are the same (compared per
  file; ``tests/ingest/logs/test_stage.py`` holds it, a file rewritten in the final schema
  included).
* Whole command, main against this code alternating, medians (load 15-28, so within noise
  for the 1M-line files, where the changes are worth 0.01-0.02 CPU-s): 100 JSON lines, new
  catalog (9) 0.629 -> 0.628 CPU-s; into an existing table (9) 0.607 -> 0.520 (both with the
  ``os._exit`` above); 60-day 1M
  lines (5) 3.14 -> 3.14 CPU-s; 1-day (5) 2.79 -> 2.77.
* Checked and left. ``lake ingest files`` still reads a new file twice (the hash that names
  its object, then the copy, hashed again to catch a file changed in between) and an already
  stored one once: hashing while copying to a temporary object would write every stored file
  again and on S3 needs a server-side copy. The text-log regex was taken apart in
  ``bench_text_logs``' profile (fields split at their delimiters where a DFA proves it);
  nothing new here. Landing after staging is about 0.035 CPU-s of the main thread
  (``bench_write_startup``, fifth round): overlapping the catalog's record with the encoders'
  tail would need the stage to hand over before its files are closed, for at most that in
  wall time: not done.

``python -m bench.bench_peers --appends 1000`` runs only the appends case. Its long mode,
``--long 10000``, runs ``write_table`` alone on both backend pairs against DuckLake's
DuckDB catalog, and prints the
medians of appends 2-11, 991-1,000 and the last ten (is it flat at 10,000 versions?), then
the 10-day GROUP BY before and after ``optimize`` (DuckLake: ``ducklake_merge_adjacent_files``).

What the profile of 200 ``write_table`` appends of 100 rows showed (pyinstrument, local
folder + SQLite, December 2026; 29.5 ms median at the start):

* deltalake, 45%: loading the new version afresh to record it (5.6 ms); bringing the kept
  log up to date four times per append (sync, plan, commit, finding the commit: 1.6-2.2 ms
  each); the commit itself (4.2 ms, a checkpoint every tenth). Each of these lists the log,
  and on a local disk a listing grows with the log (a bare deltalake commit: 1.1 ms at 100
  versions, 5.2 at 2,000, 24 at 10,000; loading the log 0.2 -> 11 ms). On S3 (moto) one
  commit through deltalake was nine requests (three listings, five reads of the newest
  entries, the write) and loading it after four more; pyarrow uploads a file in three.
* the catalog, 30%: recording the version (4.2 ms, one transaction of about ten
  statements), starting the run (3.4 ms, of which reading the lake's installed version 1.8),
  reaping dead runs twice, the sync's checks.
* staging (write and remove a temporary folder, 2.5 ms), planning the schema (0.5 ms).

What the write path does since: a 100-row append on a table whose protocol asks nothing
more of an append writes its own log entry with a put-if-absent (a hard link locally, an
``If-None-Match`` PUT on S3), the rule deltalake follows, and falls back to deltalake's
commit when another writer took the version; the new version's snapshot is the base plus
the added files (never loaded again); the next append plans on that snapshot while the log
has no entry after it (one look-up); checkpoints every ``delta.checkpointInterval``
versions as before; files up to 8 MB go to S3 in one PUT; "is there a version after it"
is one HEAD (pyarrow follows a missing key with a listing, which moto answers by scanning
the bucket). A regular append on S3 is now three requests (HEAD, PUT data, PUT log entry),
with a checkpoint's two dozen every tenth: 33 requests an append on average before, about
8 after (20 appends, moto's log, its 404 answers not counted). Tried and dropped:
committing through deltalake on a log left behind by a few versions (it rebases, but
slower than bringing the log up to date first: 15.1 -> 17.6 ms local, 96 -> 124 ms on
S3 + PG).

Measured (``--appends 1000``, main then this code, one after the other, load 12.7-19.8, so
only ratios within a run mean much): ``write_table`` median 42.0 -> 21.9 ms local + SQLite
(1,000th append: 115.9 -> 21.8 ms), 302 -> 69 ms S3 + PG; ``ingest_logs`` of 100 lines
67 -> 35 ms local; against DuckLake's DuckDB catalog in the same run 1.76x -> 0.80x, S3 + PG
against DuckLake on PG 7.4x -> 1.45x. When the machine calmed down (load 2.5-4.4, 400
appends local, 200 on S3, main then this code): 24.1 -> 6.8 ms local + SQLite, 147.9 ->
24.8 ms S3 + PG (means 26.6 -> 10.8 and 163 -> 53 ms: checkpoints and compactions).
``--long 10000`` (load 2-5), median of ten appends at 1,000 / 5,000 / 8,000 / 10,000
versions, local + SQLite: 7.5 / 10.8 / 12.8 / 16.1 ms; S3 + PG at 1,000: 36.5 ms. Not yet
flat: what still grows with the history was not found in the time there was.

What a warm ``lk.sql`` costs besides DuckDB (issue 18, reads; December 2026; the 10-day
GROUP BY over 1,000 appends of 100 rows, 8 files before ``optimize``, 1 after). Wall time
meant little (load 15-30 on 2 cores), so instructions were counted: callgrind with
collection switched on around ten warm queries in one process (``callgrind_control -i on``
from the script itself), old and new code on the same tables. Millions of instructions a
query, plain DuckDB on one Parquet file 40.4 (``fetchall``):

* Parsing, pinning, rewriting were already small: the parse is cached per text, the
  snapshot per (table, version), the newest-commit check is one ``stat`` locally. Profiled
  per phase (CPU-ms, local): parse 0.001, catalog + pin 0.03, rewrite 0.04, result 0.01;
  DuckDB ran the rewritten text as fast as the plain text on the same files (the casts and
  ``union_by_name`` cost nothing measurable). Of the rest, 90% of the instructions are
  DuckDB's execution.
* Found and cut: (1) a new cursor per query set up with three, now four ``SET``
  statements, 0.3-0.4 CPU-ms: a cursor a plain read ran on is now kept for the next read;
  (2) on S3, DuckDB validated its cache of every data file with a HEAD per file per query
  (8 HEADs, 37 of the 44 ms of a query on moto): a statement that reads only the latest
  versions of lake tables sets ``validate_external_file_cache = 'NO_VALIDATION'`` on its
  cursor (Delta data files never change in place; other files, and old versions that
  vacuum may have removed, are still validated); (3) "is there a newer commit" on S3 was
  pyarrow's ``get_file_info``, a HEAD and a listing for the usual missing key (35 ms on moto
  with a full bucket): now one HEAD (10 ms).
* Result: after optimize, local 43.9 -> 42.1 (1.09x -> 1.04x plain DuckDB); before
  optimize, local 49.3 -> 47.2 (1.22x -> 1.17x); S3 + PG after optimize 50.4 -> 45.5, before
  61.4 -> 50.3 (1.52x -> 1.25x), and on S3 the HEADs are gone from the wall time as well
  (the query then made no request at all). Count at the first version 4.3 -> 2.4 (plain
  DuckDB's count 1.0).
* What is left is the files, not the SQL layer. The same query by plain DuckDB, CPU-ms,
  medians of 80 alternating: the optimized file (delta-rs: LZ4, dictionary pages for every
  column, row groups of 65,536 + 34,464) 6.85; DuckDB's own file of the rows (snappy, one
  group) 5.60; DuckDB copies of the optimized file in LZ4 with two groups 5.70 and with one
  4.92. So the compacted file's writer (its encodings, about 1.1 ms) and its row-group size
  (about 0.8 ms) are the remaining gap, on the write side. Before optimize, seven 100-row
  files beside the big one cost DuckDB a further 5 million instructions.

Issue 18, reads after appends and ``optimize``, third round (December 2026; the machine's
load was 2-15 throughout, with other helpers' work, so instructions and alternating
medians in one process decide; the bench's own rows above moved by 2x between two runs):

* The compacted file. deltalake's ``optimize`` was given no sample, so it put a dictionary
  on every column (ids, times, byte counts and latencies that never repeat included). It is
  now given the first rows of the files it rewrites (the largest first, at most four files)
  and decides per column with the ingest's own rule (``lake.delta.encoding``). Plain DuckDB
  on the file of 100,000 rows (1,000 appends of 100 rows, then ``optimize``), callgrind,
  one thread, millions of instructions a query: the compacted file before 36.5, after
  30.4; DuckDB's own file of the same rows 36.7. Other writers of the same rows, same
  measure: deltalake LZ4 with those dictionaries in one row group 29.9 (two of 65,536 +
  34,464: 30.2); with every dictionary 34.2; snappy 39.1; pyarrow with the ingest's
  options 30.8-31.2; DuckDB's COPY in LZ4 29.5-29.8. So there was nothing to win by letting
  DuckDB write the compacted files, and the row groups stay at 65,536 (deltalake's abort
  with nested structs, FACTS.md): with two groups both cores scan. Wall, local + SQLite,
  lake query over plain DuckDB's query of one file, medians of 100 alternating in one
  process, main then this code (load 1.8): after ``optimize`` 1.05x -> 0.92-0.97x; before
  it (the auto-compactions write the same way) 1.19-1.45x -> 1.12-1.40x.
* S3 + PG, per query. cProfile of a warm query (load 6): DuckDB 5.0 ms, the HEAD of log
  entry N+1 ("is there a newer commit") 3.6 ms, the catalog's table list 0.8 ms; no other
  request (moto's log: one HEAD a query, no data read, DuckDB's file cache holds the data).
  A read-only statement now asks that HEAD on a long-lived thread while DuckDB runs, and
  runs again pinned after the newer commit when there was one, whether the first run
  answered or failed (a column only the newer commit has): what it returns is of a
  version that was the latest at a moment between the call and the return, as before.
  Measured, main then this code, the same S3 table (load 4-7, medians of 60 alternating
  with plain DuckDB in each process): before ``optimize`` 1.90-3.42x -> 1.98-2.21x, after
  it 2.11-3.23x -> 1.65-2.33x; in a profile the query then waits for the HEAD 2 ms after
  DuckDB's 5.5 ms when moto answers in 7 ms under load. What is left on S3 is moto's
  latency for that one HEAD and the catalog's round trip (0.8-1 ms): the check cannot be
  dropped (a commit by another tool must be seen at once: tests/queries/test_sql.py).

Issue 18, small appends, second round (December 2026; the machine's load was 10-30 the whole
time, so CPU seconds and request counts decide, wall-clock figures only within a run):

* A bug first: a table folder deleted and made again at the same location in one process
  failed to commit (locally), or was committed as version N+1 onto a log without version N
  (S3: a broken table), because what each thread keeps of a table (its loaded log, the
  snapshot its last append made, commit times) outlived the folder. What is kept is now
  marked with the digest of one log entry, and checked once per write (a GET of that entry
  on S3, a read of a small file locally); the bench's in-process ingest no longer needs a
  new path per attempt for this.
* Counted per 100-line ``ingest_logs`` append on moto S3 + PostgreSQL (moto's request log;
  SQLAlchemy's statement and commit events; 60 appends after the first): a regular append
  was HEAD, HEAD (the same "is there a version after it" asked by the sync and again by the
  plan), PUT data, PUT log entry; now HEAD, GET (the check above), PUT, PUT; with a
  checkpoint's and a compaction's requests 12.3 an append on average before and after. The
  catalog: 20.3 statements in 8.1 transactions -> 18.3 in 6.1: the log ingest's sync reaped
  dead runs, which the run's start does in its own transaction anyway; recording a version
  looked for it first (an insert that fails on the unique key tells the same); the files a
  log ingest read were recorded in a transaction of their own, now with the prepared
  outcome. CPU per append, medians, base and this code alternating: local + SQLite
  ``ingest_logs`` 23.6 -> 20.6 ms, ``write_table`` 11.1 -> 9.1 ms (load 23-31); on S3 + PG
  not told apart at load 18-28 (base 42.2 / 34.9 / 39.7 ms, this code 36.1 / 37.0 / 36.1).
  Where the time goes (pyinstrument, S3 + PG, wall at load 14): the catalog about half
  (recording the version 16%, preparing 8%, the run's start 5%), the S3 requests a third
  (each PUT through s3fs about 2 ms of CPU, pyarrow's HEAD 0.6), staging a tenth. The
  quiet-machine target (30 ms) is for the lead's rerun to tell.
* ``lake history T`` on S3 + PG asked pyarrow for the next log entry, which follows a missing
  key with a listing: HEAD + LIST. One function (``lake.delta.log.has_entry``) now answers
  for readers and the store, one HEAD. With 31 ingests in the bucket (load 15): 1,054 ->
  929 ms a process, 9.6x -> 8.5x a bare ``python -c pass`` (109 ms); CPU 271 / 274 ms. The
  rest is start-up: importing ``pyarrow.fs`` (with pyarrow and numpy) is the largest piece
  (0.33 s of ``-X importtime`` under load); s3fs or botocore cost more to import; a HEAD
  signed by hand would avoid them all (left undone).
* Flat as history grows: one table at 10,400 versions against one at 300, appends
  alternating in one process (60 each, load 10-15, local + SQLite): median 43.6 vs 36.8 ms,
  CPU median 13.1 vs 12.1 ms. What grows in a regular append was the catalog's count of the
  table's version rows to tell that none is missing (1.5 ms at 10,000 versions, 0.15 at
  1,000, SQLite). Tried and dropped: remembering in the process the prefix found complete
  and counting only the rows after it (version rows are never deleted by the lake, but a
  test that deletes one to stand for a writer that died before recording it then saw no
  gap); a flat count needs the catalog to keep that prefix itself (a column of ``tables``,
  with a migration). What grows in the others (cProfile totals, 60 appends, 300 -> 10,400
  versions): the auto-compaction every 32 appends rewrites every file under 8 MB, which at
  100-row appends is the whole table (0.14 -> 0.91 s); bringing the kept log up to date
  before each checkpoint and loading it after each compaction lists ``_delta_log``, which on
  a local disk grows with the log (``strace``: about 18 ``getdents`` calls a listing at
  11,400 entries; 0.20 -> 0.74 s); the checkpoint itself (0.13 -> 0.37 s: it holds every
  file removed within the retention, 32 per compaction). Those are means, not medians;
  making them flat needs compaction that leaves compacted files alone and a log listing
  that starts at the kept version (deltalake lists the whole folder).

Issue 18, reads on S3 + PG, fourth round (December 2026; where the 1.24-1.48x after
``optimize`` goes; the machine's load was 2-18 with other helpers' suites, so counts and
CPU decide and wall figures are only compared within one process). The bench's tables were
built once (1,000 appends of 100 rows on moto + PostgreSQL, one table left at 7 files, one
optimized to 1), and the warm 10-day GROUP BY was taken apart in a script of its own:

* Counted per warm query (moto's request log; the catalog reader's statements): one catalog
  statement (the rows of the tables it names), one HEAD (log entry N+1, a 404), no other
  request: no GET, LIST or HEAD of a data file (DuckDB reads them from its own in-memory
  file cache, trusted for lake-only reads), no DuckDB set-up (the cursor is kept).
  ``tests/queries/test_sql.py`` holds the two counts.
* DuckDB on the rewritten text alone, on the lake's cursor, runs as fast as plain DuckDB on
  its file: after ``optimize`` 5.69 ms against 5.05 on a local copy with the plain query
  and 6.57 on DuckDB's own file; before it 6.28 against 6.63 (load 5). So the gap is the
  two round trips and the Python around them, not the scan.
* Taken apart (main's code, 41 queries a side alternating in one process, load 4.3, the
  table before ``optimize``): the lake 10.19 ms; without the HEAD 7.70; without the catalog
  statement 8.28; without either 6.07; DuckDB on the rewritten text 5.47; plain DuckDB 6.04.
  CPU at load 9-10 (81 a side, after / before ``optimize``): 10.83 / 13.16 ms, without the
  HEAD 8.29 / 12.11, without either 8.21 / 11.16, DuckDB alone 6.48 / 8.77.
* The HEAD is moto's cost more than ours: moto spends 2.1-3.0 ms of CPU on any request
  (HEAD of a missing or a present key, GET; a LIST 4.8-7.2), on the same two cores DuckDB's
  two threads use; our side of a HEAD is 0.3 ms of CPU in a loop, 0.8-1.0 ms interleaved.
  Beside plain DuckDB's query (no lake code at all, a HEAD on a thread) it added 1.4-2.2 ms
  of wall at load 12-13, and 4.6 ms when asked before the query. A real S3 costs no local
  CPU but answers a HEAD in 5-20 ms, longer than this query: the check (which must stay,
  for commits by other tools) then bounds the query's time from below.
* Tried and dropped: pinning a table from the catalog row the process read before and
  reading the row again beside DuckDB (on a request thread, or after DuckDB while the HEAD
  finished), the query running again when the row had changed. Same results and the same
  guarantee, but in-process paired A/B against the row read first (151-201 queries a side,
  load 9-18): +0.4-0.9 ms CPU and +0.3-1.2 ms wall (faster in 55-95 of 151-201 pairs; a
  first run of 61 at load 12-13 had shown 0.2-0.3 ms less wall). On
  two loaded cores anything that wakes a thread beside DuckDB's two costs more than the
  0.6-1.7 ms round trip it hides: a Python thread spinning 1 ms beside the plain query
  added 3.3 ms wall and 1.7 ms CPU, one sleeping 3 ms 0.1-1.6 ms wall (load 6-8; DuckDB's
  Python client takes the GIL between its tasks). What is left is moto's per-request CPU
  and the catalog's round trip; a quiet machine (the lead's rerun) may tell whether the
  overlap is worth it there.

Start-up of the whole JSON ingest, third round (December 2026; ``bench_write_startup``'s
docstring has the profile): a JSON ingest imported neither pandas nor Alembic already; what
changed for it is the garbage collector paused while the command starts (50-60 ms of it
walking the modules' objects) and a few imports (3-15 ms). ``python -m bench.bench_peers 1 1
ingest`` run with this code and then with main's (not alternating; load 3.9-5.5, other
helpers' suites running): whole process 3.49 s against DuckDB's 1.34 (2.60x), main's 4.06 s
against 1.11 (3.67x); in-process 1.94 s against 0.92 (2.12x), main's 3.99 s against 0.98
(4.09x) for code the round did not touch: at that load the two runs do not compare, and the
same-run start-up figures (``bench_write_startup``: 100 JSON lines, new catalog, 0.75 ->
0.66 CPU-s; existing table 0.68 -> 0.65) are the ones to read.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bench.common import (
    PG,
    drop_pg_database,
    moto_s3_server,
    pg_database,
    pg_url,
    process_env,
)

LINES_PER_SCALE = 1_000_000
APPENDS_PER_SCALE = 1_000
APPEND_ROWS = 100
REPEAT = 3
QUERY_ROUNDS = 21
"""Rounds of the queries over the appended tables (4-8 ms each over moto): a median of 7 read
1.87x plain DuckDB on S3 + PG in one run of the tenth round, where 30 queries a side on
fresh tables showed the code before that round at 4.1 ms and the round's at 3.6 ms."""
S3_BUCKET = "lake-bench"
QUERY_10_DAYS = (
    "SELECT request.method AS method, status, count(*) AS n, avg(latency_ms) AS latency "
    "FROM {t} WHERE ts >= '2026-10-05T00:00:00Z' AND ts < '2026-10-15T00:00:00Z' "
    "GROUP BY ALL ORDER BY ALL"
)


# --------------------------------------------------------------------------------------------
# Data


def generate(path: Path, lines: int, days: int, *, offset: int = 0) -> int:
    """``lines`` nested JSON web-log lines spread over ``days`` days (DuckDB writes them)."""
    import duckdb

    span_s = days * 86_400
    sql = f"""
    COPY (
      SELECT strftime(TIMESTAMPTZ '2026-10-01 00:00:00+00'
                        + to_seconds(((i * {span_s}) // {max(lines, 1)})::BIGINT),
                      '%Y-%m-%dT%H:%M:%SZ') AS ts,
             {{'method': ['GET','GET','POST','PUT','DELETE'][1 + (hash(i, 1) % 5)::BIGINT],
               'path': '/api/v1/items/' || (hash(i, 2) % 500)::VARCHAR}} AS request,
             [200, 200, 200, 201, 404, 500][1 + (hash(i, 3) % 6)::BIGINT] AS status,
             (100 + hash(i, 4) % 100000)::BIGINT AS bytes,
             (hash(i, 5) % 100000) / 1000.0 AS latency_ms,
             'user-' || (hash(i, 6) % 10000)::VARCHAR AS user_id
      FROM range({offset}, {offset + lines}) t(i)
    ) TO '{path}' (FORMAT json)
    """
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(sql)
    con.close()
    return path.stat().st_size


# --------------------------------------------------------------------------------------------
# Sides


def same_work_sql(source: Path, target: Path) -> str:
    """DuckDB doing what a lake ingest keeps, in one process: types from every line (not a
    20,480-line sample), each line's text (``_raw``) and number (``_line``), and one folder
    per event day. Still less than the lake: no sha256 of the file, no ``_error``, no drift
    ledger, no Delta commit, times left as text (the lake types them), and a line that is
    not JSON fails the whole COPY."""
    lines = (
        f"read_csv('{source}', columns={{'line': 'VARCHAR'}}, delim='\\x01', quote='', "
        "escape='', header=false, auto_detect=false)"
    )
    return (
        "SET TimeZone = 'UTC'; "
        f"SET VARIABLE s = (SELECT json_group_structure(line::JSON) FROM {lines}); "
        "COPY (SELECT unnest(json_transform(line, getvariable('s'))), line AS _raw, "
        "row_number() OVER () AS _line, "
        "CAST(TRY_CAST(json_extract_string(line, '$.ts') AS TIMESTAMPTZ) AS DATE) AS _event_date "
        f"FROM {lines}) TO '{target}' (FORMAT parquet, PARTITION_BY (_event_date))"
    )


def extension(name: str) -> str:
    """A DuckDB extension file from its ``duckdb-extension-*`` wheel, named as DuckDB wants
    (the sqlite and postgres files must be renamed before LOAD: FACTS.md)."""
    import importlib

    package = importlib.import_module(f"duckdb_extension_{name}")
    [found] = glob.glob(
        str(Path(package.__file__).parent / "extensions" / "*" / "*.duckdb_extension")
    )
    wanted = {"sqlite": "sqlite_scanner", "postgres": "postgres_scanner"}.get(name, name)
    target = Path(tempfile.gettempdir()) / "lake-bench-extensions" / f"{wanted}.duckdb_extension"
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(found, target)
    return str(target)


def ducklake_attach(kind: str, folder: Path, pg_db: str | None) -> str:
    """SQL that loads DuckLake and attaches a lake ``dl`` with its catalog in ``kind``."""
    loads = [f"LOAD '{extension('ducklake')}'"]
    data = folder / "ducklake-data"
    if kind == "duckdb":
        meta = f"ducklake:{folder / 'meta.ducklake'}"
    elif kind == "sqlite":
        loads.append(f"LOAD '{extension('sqlite')}'")
        meta = f"ducklake:sqlite:{folder / 'meta.sqlite'}"
    else:
        loads.append(f"LOAD '{extension('postgres')}'")
        meta = f"ducklake:postgres:dbname={pg_db} host={PG['host']} user={PG['user']}"
    return (
        "SET autoinstall_known_extensions = false; SET autoload_known_extensions = false; "
        + "; ".join(loads)
        + f"; ATTACH '{meta}' AS dl (DATA_PATH '{data}/')"
    )


def run_process(
    argv: list[str], env: dict[str, str] | None = None, cwd: Path | None = None
) -> float:
    start = time.perf_counter()
    subprocess.run(argv, env=env, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - start


def duckdb_process(sql: str) -> list[str]:
    return [sys.executable, "-c", f"import duckdb; duckdb.connect().execute({sql!r}).fetchall()"]


def lake_env(warehouse: Path, catalog: str) -> dict[str, str]:
    return process_env(LAKE_WAREHOUSE=str(warehouse), LAKE_CATALOG_URL=catalog)


def lake_command() -> list[str]:
    return [sys.executable, "-m", "lake"]


# --------------------------------------------------------------------------------------------
# Cases


def median(samples: list[float]) -> float:
    return statistics.median(samples) if samples else float("nan")


def timed_alternately(sides: dict[str, Callable[[int], float]], repeat: int) -> dict[str, float]:
    """Each side's median over ``repeat`` rounds, the sides alternating within a round."""
    samples: dict[str, list[float]] = {name: [] for name in sides}
    for attempt in range(repeat):
        for name, side in sides.items():
            samples[name].append(side(attempt))
    return {name: median(values) for name, values in samples.items()}


def row(case: str, times: dict[str, float], **extra: Any) -> dict[str, Any]:
    base = times["duckdb"]
    out: dict[str, Any] = {
        "case": case,
        "ours_s": times["lake_sqlite"],
        "baseline_s": base,
        "baseline": "plain DuckDB",
        "ratio": times["lake_sqlite"] / base if base else float("nan"),
    }
    for name, value in times.items():
        if name in ("duckdb", "lake_sqlite"):
            continue
        out[f"{name}_s"] = value
        out[f"{name}_ratio"] = value / base if base else float("nan")
    out.update(extra)
    return out


def ingest_case(folder: Path, days: int, lines: int, pg_dbs: list[str]) -> list[dict[str, Any]]:
    source = folder / f"logs-{days}d.jsonl"
    size = generate(source, lines, days)
    extra = folder / f"logs-{days}d-extra.jsonl"
    generate(extra, max(lines // 10, 1), days, offset=lines)

    def fresh(name: str, attempt: int) -> Path:
        place = folder / f"{name}-{days}d-{attempt}"
        shutil.rmtree(place, ignore_errors=True)
        place.mkdir(parents=True)
        return place

    places: dict[tuple[str, int], Path] = {}
    pg_for: dict[tuple[str, int], str] = {}

    def duckdb_side(attempt: int) -> float:
        place = places[("duckdb", attempt)] = fresh("duckdb", attempt)
        return run_process(
            duckdb_process(f"COPY (SELECT * FROM read_json('{source}')) TO '{place}/0.parquet'")
        )

    def same_work_side(attempt: int) -> float:
        place = fresh("duckdb-same-work", attempt)
        return run_process(duckdb_process(same_work_sql(source, place / "out")))

    def ducklake_side(kind: str) -> Callable[[int], float]:
        def side(attempt: int) -> float:
            place = places[(kind, attempt)] = fresh(f"ducklake-{kind}", attempt)
            db = None
            if kind == "pg":
                db = pg_for[(kind, attempt)] = pg_database()
                pg_dbs.append(db)
            sql = ducklake_attach(kind, place, db) + (
                f"; CREATE TABLE dl.logs AS SELECT * FROM read_json('{source}')"
            )
            return run_process(duckdb_process(sql))

        return side

    def lake_side(kind: str) -> Callable[[int], float]:
        def side(attempt: int) -> float:
            place = places[(f"lake_{kind}", attempt)] = fresh(f"lake-{kind}", attempt)
            if kind == "pg":
                db = pg_for[(f"lake_{kind}", attempt)] = pg_database()
                pg_dbs.append(db)
                catalog = pg_url(db)
            else:
                catalog = f"sqlite:///{place / 'catalog.db'}"
            env = lake_env(place / "warehouse", catalog)
            return run_process(
                [*lake_command(), "ingest", "logs", "web.logs", str(source)], env=env, cwd=place
            )

        return side

    sides = {
        "duckdb": duckdb_side,
        "duckdb_same_work": same_work_side,
        "ducklake_duckdb": ducklake_side("duckdb"),
        "ducklake_sqlite": ducklake_side("sqlite"),
        "ducklake_pg": ducklake_side("pg"),
        "lake_sqlite": lake_side("sqlite"),
        "lake_pg": lake_side("pg"),
    }
    times = timed_alternately(sides, REPEAT)
    rows = [
        row(
            f"ingest {days} day{'s' if days > 1 else ''}, whole process",
            times,
            lines=lines,
            mb=round(size / 1e6, 1),
            throughput_vs_duckdb=round(times["duckdb"] / times["lake_sqlite"], 3),
        )
    ]

    rows.append(in_process_ingest(folder, source, days, lines))

    # Append 10% more, whole process, onto each side's first ingest.
    def append_duckdb(attempt: int) -> float:
        place = places[("duckdb", 0)]
        return run_process(
            duckdb_process(
                f"COPY (SELECT * FROM read_json('{extra}')) TO '{place}/a{attempt}.parquet'"
            )
        )

    def append_ducklake(kind: str) -> Callable[[int], float]:
        def side(attempt: int) -> float:
            sql = ducklake_attach(kind, places[(kind, 0)], pg_for.get((kind, 0))) + (
                f"; INSERT INTO dl.logs SELECT * FROM read_json('{extra}')"
            )
            return run_process(duckdb_process(sql))

        return side

    def append_lake(kind: str) -> Callable[[int], float]:
        def side(attempt: int) -> float:
            place = places[(f"lake_{kind}", 0)]
            copy = place / f"extra-{attempt}.jsonl"
            shutil.copyfile(extra, copy)
            copy.write_text(copy.read_text().replace('"user-', f'"u{attempt}-'))  # new content
            catalog = (
                pg_url(pg_for[(f"lake_{kind}", 0)])
                if kind == "pg"
                else f"sqlite:///{place / 'catalog.db'}"
            )
            env = lake_env(place / "warehouse", catalog)
            return run_process(
                [*lake_command(), "ingest", "logs", "web.logs", str(copy)], env=env, cwd=place
            )

        return side

    if days == 60:
        times = timed_alternately(
            {
                "duckdb": append_duckdb,
                "ducklake_duckdb": append_ducklake("duckdb"),
                "ducklake_sqlite": append_ducklake("sqlite"),
                "ducklake_pg": append_ducklake("pg"),
                "lake_sqlite": append_lake("sqlite"),
                "lake_pg": append_lake("pg"),
            },
            REPEAT,
        )
        rows.append(row("append +10%, whole process", times, lines=max(lines // 10, 1)))
    return rows


def in_process_ingest(folder: Path, source: Path, days: int, lines: int) -> dict[str, Any]:
    """The same ingest with start-up left out: one process, imports done, each side into a
    fresh place (the lake on the embedded default: a local folder and SQLite)."""
    import duckdb

    import lake

    def fresh(name: str, attempt: int) -> Path:
        place = folder / f"{name}-{days}d-inproc-{attempt}"
        shutil.rmtree(place, ignore_errors=True)
        place.mkdir(parents=True)
        return place

    def duckdb_side(attempt: int) -> float:
        place = fresh("duckdb", attempt)
        con = duckdb.connect()
        took = _timed(
            lambda: con.execute(
                f"COPY (SELECT * FROM read_json('{source}')) TO '{place}/0.parquet'"
            ).fetchall()
        )
        con.close()
        return took

    def same_work_side(attempt: int) -> float:
        place = fresh("duckdb-same-work", attempt)
        con = duckdb.connect()
        took = _timed(lambda: con.execute(same_work_sql(source, place / "out")).fetchall())
        con.close()
        return took

    def lake_side(attempt: int) -> float:
        place = fresh("lake", attempt)
        lk = lake.connect(
            warehouse=str(place / "warehouse"), catalog=f"sqlite:///{place / 'catalog.db'}"
        )
        took = _timed(lambda: lk.ingest_logs("web.logs", [str(source)]))
        lk.close()
        return took

    times = timed_alternately(
        {"duckdb": duckdb_side, "duckdb_same_work": same_work_side, "lake_sqlite": lake_side},
        REPEAT,
    )
    return row(
        f"ingest {days} day{'s' if days > 1 else ''}, in-process",
        times,
        lines=lines,
        throughput_vs_duckdb=round(times["duckdb"] / times["lake_sqlite"], 3),
    )


@contextlib.contextmanager
def moto_s3() -> Iterator[dict[str, str]]:
    """moto's S3 server with the bench's bucket, its settings in this process's environment
    while it runs; yields them."""
    with moto_s3_server(S3_BUCKET) as env:
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            yield env
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


def appends_case(
    folder: Path, appends: int, pg_dbs: list[str], *, long: bool = False
) -> list[dict[str, Any]]:
    """100-row appends one call each, then queries over the result, before and after
    ``optimize``. ``long``: only ``write_table`` and DuckLake's DuckDB catalog (the history
    is what is measured), and the medians around the 1,000th append too."""
    import duckdb
    import pyarrow as pa

    import lake

    source = folder / "appends.jsonl"
    generate(source, appends * APPEND_ROWS, 10)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    rows_all = con.execute(f"SELECT * FROM read_json('{source}')").to_arrow_table()
    batches = [rows_all.slice(i * APPEND_ROWS, APPEND_ROWS) for i in range(appends)]
    batches = [pa.Table.from_batches(b.to_batches()).combine_chunks() for b in batches]
    lines = source.read_text().splitlines(keepends=True)

    results: list[dict[str, Any]] = []
    per_append: dict[str, list[float]] = {}
    lakes: dict[str, Any] = {}
    with contextlib.ExitStack() as stack:
        stack.enter_context(moto_s3())
        # The lake on the embedded default (local folder + SQLite) and on S3 (moto) + PG.
        for kind in ("sqlite", "s3_pg"):
            place = folder / f"lake-appends-{kind}"
            place.mkdir()
            if kind == "s3_pg":
                db = pg_database()
                pg_dbs.append(db)
                catalog, warehouse = pg_url(db), f"s3://{S3_BUCKET}/{uuid.uuid4().hex[:8]}"
            else:
                catalog, warehouse = f"sqlite:///{place / 'catalog.db'}", str(place / "warehouse")
            lk = stack.enter_context(lake.connect(warehouse=warehouse, catalog=catalog, cwd=place))
            lakes[kind] = lk
            samples = []
            for i, batch in enumerate(batches, 1):
                start = time.perf_counter()
                lk.write_table("web.appends", batch)
                samples.append(time.perf_counter() - start)
                if i % 1000 == 0:  # progress of a long run, on stderr
                    print(
                        f"lake_{kind}: {i} appends, median of the last 10 "
                        f"{median(samples[-10:]) * 1000:.1f} ms, load {os.getloadavg()[0]:.1f}",
                        file=sys.stderr,
                        flush=True,
                    )
            per_append[f"lake_{kind}"] = samples
            if long:
                continue
            # A log ingest of a 100-line file each (a tenth as many calls).
            samples = []
            for i in range(max(appends // 10, 10)):
                small = place / f"a{i}.jsonl"
                small.write_text("".join(lines[i * APPEND_ROWS : (i + 1) * APPEND_ROWS]))
                start = time.perf_counter()
                lk.ingest_logs("web.ingested", str(small))
                samples.append(time.perf_counter() - start)
            per_append[f"lake_{kind}_ingest_logs"] = samples

        # DuckLake: INSERT of the same Arrow rows, one statement each.
        dl_cons = {}
        for kind in ("duckdb",) if long else ("duckdb", "sqlite", "pg"):
            place = folder / f"ducklake-appends-{kind}"
            place.mkdir()
            db = None
            if kind == "pg":
                db = pg_database()
                pg_dbs.append(db)
            dl = duckdb.connect()
            for statement in ducklake_attach(kind, place, db).split("; "):
                dl.execute(statement)
            first = batches[0]
            dl.register("batch", first)
            dl.execute("CREATE TABLE dl.appends AS SELECT * FROM batch LIMIT 0")
            samples = []
            for batch in batches:
                dl.register("batch", batch)
                start = time.perf_counter()
                dl.execute("INSERT INTO dl.appends SELECT * FROM batch")
                samples.append(time.perf_counter() - start)
            per_append[f"ducklake_{kind}"] = samples
            dl_cons[kind] = dl

        # Plain DuckDB: the same rows in one COPY (there is no per-append cost to compare).
        plain = folder / "plain-appends.parquet"
        start = time.perf_counter()
        con.register("all_rows", rows_all)
        con.execute(f"COPY all_rows TO '{plain}' (FORMAT parquet)")
        one_copy = time.perf_counter() - start

        out: dict[str, Any] = {
            "case": f"100-row append, one call each ({appends} appends)",
            "ours_s": median(per_append["lake_sqlite"]),
            "baseline_s": one_copy,
            "baseline": "plain DuckDB: one COPY of all rows",
            "ratio": float("nan"),
        }
        for name, samples in per_append.items():
            # The first append creates the table: the medians leave it out.
            out[f"{name}_median_ms"] = round(median(samples[1:]) * 1000, 1)
            out[f"{name}_first10_ms"] = round(median(samples[1:11]) * 1000, 1)
            if len(samples) >= 1000:
                out[f"{name}_at1000_ms"] = round(median(samples[990:1000]) * 1000, 1)
            out[f"{name}_last10_ms"] = round(median(samples[-10:]) * 1000, 1)
            # Means too: a checkpoint every tenth append and the compactions are in them.
            span = min(1000, len(samples) // 2)
            out[f"{name}_first{span}_mean_ms"] = round(statistics.fmean(samples[1:span]) * 1000, 1)
            out[f"{name}_last{span}_mean_ms"] = round(statistics.fmean(samples[-span:]) * 1000, 1)
        results.append(out)

        # Queries over the appended tables, before and after compaction.
        query = QUERY_10_DAYS

        def query_sides() -> dict[str, Callable[[int], float]]:
            return {
                "duckdb": lambda _: _timed(
                    lambda: con.execute(query.format(t=f"'{plain}'")).fetchall()
                ),
                **{
                    f"lake_{kind}": (
                        lambda _, lk=lk: _timed(lambda: lk.sql(query.format(t="web.appends")))
                    )
                    for kind, lk in lakes.items()
                },
                **{
                    f"ducklake_{kind}": (
                        lambda _, c=c: _timed(
                            lambda: c.execute(query.format(t="dl.appends")).fetchall()
                        )
                    )
                    for kind, c in dl_cons.items()
                },
            }

        def files() -> dict[str, int]:
            return {
                f"lake_{kind}_files": len(lk.describe("web.appends").snapshot.files)
                for kind, lk in lakes.items()
            }

        results.append(
            row(
                "10-day GROUP BY after the appends",
                timed_alternately(query_sides(), QUERY_ROUNDS),
                **files(),
            )
        )
        for lk in lakes.values():
            lk.optimize("web.appends")
        for c in dl_cons.values():
            c.execute("CALL ducklake_merge_adjacent_files('dl')")
        results.append(
            row(
                "10-day GROUP BY after the appends, optimized",
                timed_alternately(query_sides(), QUERY_ROUNDS),
                **files(),
            )
        )
        if long:
            for c in dl_cons.values():
                c.close()
            con.close()
            return results

        count_first = "SELECT count(*) FROM {t}"
        sides = {
            "duckdb": lambda _: _timed(
                lambda: con.execute(f"SELECT count(*) FROM '{plain}'").fetchall()
            ),
            **{
                f"lake_{kind}": (
                    lambda _, lk=lk: _timed(
                        lambda: lk.sql("SELECT count(*) FROM web.appends VERSION AS OF 0")
                    )
                )
                for kind, lk in lakes.items()
            },
            **{
                f"ducklake_{kind}": (
                    lambda _, c=c: _timed(
                        lambda: c.execute(
                            count_first.format(t="dl.appends AT (VERSION => 2)")
                        ).fetchall()
                    )
                )
                for kind, c in dl_cons.items()
            },
        }
        results.append(row("count at the first version, warm", timed_alternately(sides, 9)))

    # The first query of a new process (start-up, catalog, planning, the query); DuckLake's
    # DuckDB-file catalog is locked while this process holds it open.
    for c in dl_cons.values():
        c.close()
    lake_place = folder / "lake-appends-sqlite"
    env = lake_env(lake_place / "warehouse", f"sqlite:///{lake_place / 'catalog.db'}")
    q = query.format(t="web.appends")
    lake_code = f"import lake; lake.connect().sql({q!r})"
    sides = {
        "duckdb": lambda _: run_process(duckdb_process(query.format(t=f"'{plain}'"))),
        "lake_sqlite": lambda _: run_process(
            [sys.executable, "-c", lake_code], env=env, cwd=lake_place
        ),
        **{
            f"ducklake_{kind}": (
                lambda _, kind=kind: run_process(
                    duckdb_process(
                        ducklake_attach(kind, folder / f"ducklake-appends-{kind}", None)
                        + "; "
                        + query.format(t="dl.appends")
                    )
                )
            )
            for kind in ("duckdb", "sqlite")
        },
    }
    results.append(row("first 10-day query in a new process", timed_alternately(sides, 5)))
    con.close()
    return results


def _timed(action: Callable[[], Any]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def run(
    scale: float = 1.0,
    *,
    days: tuple[int, ...] = (1, 28, 60),
    appends_too: bool = True,
    only_appends: int | None = None,
    long: bool = False,
) -> list[dict[str, Any]]:
    """Every case at ``scale``; ``days`` picks the ingest files, ``appends_too=False`` leaves
    out the 1,000 small appends and the queries after them (minutes at scale 1); with
    ``only_appends``, the appends case alone with that many appends
    (``python -m bench.bench_peers --appends 1000``), ``long`` for its long mode
    (``--long 10000``)."""
    lines = max(int(LINES_PER_SCALE * scale), 1000)
    appends = only_appends or max(int(APPENDS_PER_SCALE * scale), 50)
    folder = Path(tempfile.mkdtemp(prefix="lake-bench-peers-"))
    pg_dbs: list[str] = []
    rows: list[dict[str, Any]] = [
        {"case": "load (1-minute average, start)", "load": os.getloadavg()[0]}
    ]
    try:
        if only_appends is None:
            for span in days:
                rows += ingest_case(folder, span, lines, pg_dbs)
        if appends_too or only_appends is not None:
            rows += appends_case(folder, appends, pg_dbs, long=long)
    finally:
        for db in pg_dbs:
            drop_pg_database(db)
        shutil.rmtree(folder, ignore_errors=True)
    rows.append({"case": "load (1-minute average, end)", "load": os.getloadavg()[0]})
    return rows


if __name__ == "__main__":
    # python -m bench.bench_peers [SCALE [DAYS,DAYS... [ingest]]]: "ingest" skips the appends;
    # python -m bench.bench_peers --appends N | --long N: the appends case alone.
    args = sys.argv[1:]
    if len(args) > 1 and args[0] in ("--appends", "--long"):
        found = run(only_appends=int(args[1]), long=args[0] == "--long")
    else:
        found = run(
            float(args[0]) if args else 0.01,
            days=tuple(int(d) for d in args[1].split(",")) if len(args) > 1 else (1, 28, 60),
            appends_too=not (len(args) > 2 and args[2] == "ingest"),
        )
    print(json.dumps(found, indent=2, default=str))
