/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include "tincan-backoff.h"
#include "tincan-frame.h"
#include "tincan-message.h"
#include "tincan-protocol.h"
#include "tincan-store.h"
#include "tincan-util.h"
#include "tincan-core-enums.h"
