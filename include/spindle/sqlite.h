// Enqueue inside the application's own SQLite transaction, on a database file that Spindle also
// uses (its tables are prefixed spindle_ and live beside the application's).
//
//   sqlite3_exec(db, "BEGIN", ...);
//   ... the application's own writes ...
//   spindle::sqlite::Enqueue(db, {spec});
//   sqlite3_exec(db, "COMMIT", ...);   // or ROLLBACK: then there is no job either
//
// SQLite cannot notify other processes, and nothing is announced before the commit: workers
// find the jobs on their next poll (WorkerOptions::poll_interval_no_notify, 200 ms by default).
// The schema must exist (run `spindle migrate` or start a worker first). Throws spindle::Error.
#pragma once

#include <string>
#include <vector>

#include "spindle/job.h"

// SQLite's connection, declared as sqlite3.h does: the application includes sqlite3.h itself.
typedef struct sqlite3 sqlite3;

namespace spindle::sqlite {

// The jobs' ids: for a spec whose unique key a job holds, that job's.
std::vector<std::string> Enqueue(sqlite3* db, const std::vector<JobSpec>& specs);
// The same, saying for each spec whether a job already held its unique key.
std::vector<EnqueueResult> Insert(sqlite3* db, const std::vector<JobSpec>& specs);

}  // namespace spindle::sqlite
