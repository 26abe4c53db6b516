// Umbrella header for libspindle.
#pragma once

#include "spindle/client.h"
#include "spindle/clock.h"
#include "spindle/cluster.h"
#include "spindle/error.h"
#include "spindle/handler.h"
#include "spindle/job.h"
#include "spindle/limit.h"
#include "spindle/log.h"
#include "spindle/observer.h"
#include "spindle/schedule.h"
#include "spindle/version.h"
#include "spindle/worker.h"
