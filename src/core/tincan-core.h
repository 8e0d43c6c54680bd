/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "tincan-backoff.h"
#include "tincan-connection.h"
#include "tincan-delivery-stats.h"
#include "tincan-frame.h"
#include "tincan-frame-filter.h"
#include "tincan-frame-log.h"
#include "tincan-message.h"
#include "tincan-probes.h"
#include "tincan-profile.h"
#include "tincan-protocol.h"
#include "tincan-protocols.h"
#include "tincan-store.h"
#include "tincan-timeline.h"
#include "tincan-util.h"
#include "tincan-core-enums.h"
