// Enqueue inside the application's own PostgreSQL transaction.
//
//   PQexec(conn, "BEGIN");
//   ... the application's own writes ...
//   spindle::pg::Enqueue(conn, {spec});
//   PQexec(conn, "COMMIT");   // or ROLLBACK: then there is no job either
//
// The jobs become visible, and idle workers are woken (one NOTIFY per queue), only when the
// application commits. The connection stays the application's; Spindle neither begins nor ends
// its transaction. Throws spindle::Error on failure (the transaction is then aborted, as with
// any failed statement).
#pragma once

#include <string>
#include <vector>

#include "spindle/job.h"

// libpq's connection, declared as libpq-fe.h does: the application includes libpq-fe.h itself.
typedef struct pg_conn PGconn;

namespace spindle::pg {

// The jobs' ids: for a spec whose unique key a job holds, that job's.
std::vector<std::string> Enqueue(PGconn* conn, const std::vector<JobSpec>& specs);
// The same, saying for each spec whether a job already held its unique key.
std::vector<EnqueueResult> Insert(PGconn* conn, const std::vector<JobSpec>& specs);

}  // namespace spindle::pg
