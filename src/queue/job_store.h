// The database of a vidproc deployment, as one object: videos and jobs (VideoQueue), the worker
// registry (WorkerRegistry) and the webhook outbox (WebhookOutbox) live in the same database and
// share its transactions (a status change and its webhook event commit together), so one class
// per backend implements all three. Consumers that need only one concern take that interface.
// Implementations: SqliteStore (embedded default), PostgresStore (many nodes);
// FaultInjectingJobStore wraps either for tests. Every implementation passes
// tests/queue/job_store_conformance.h.
#pragma once

#include "queue/video_queue.h"
#include "queue/webhook_outbox.h"
#include "queue/worker_registry.h"

namespace vidproc::queue {

class JobStore : public VideoQueue, public WorkerRegistry, public WebhookOutbox {
 public:
  ~JobStore() override = default;
};

}  // namespace vidproc::queue
