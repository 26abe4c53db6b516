// The routes of /api/v1 (docs/api.md): jobs, queues, the cluster, schedules, stats, health and
// the OpenAPI document, each a call of the public Client.
#pragma once

#include "http/router.h"
#include "spindle/client.h"

namespace spindle::http {

class Operations;
class EventHub;
class Instruments;
class StatsSeries;

void AddRoutes(Router& router, Client& client, Operations& operations, EventHub& events,
               StatsSeries& series, Instruments& instruments);

}  // namespace spindle::http
