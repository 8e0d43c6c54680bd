/* SPDX-License-Identifier: GPL-3.0-or-later */
#pragma once

#include <stdio.h>
#include <stdlib.h>

#include <glib.h>

#include "tincan-frame.h"

/* Shared by the libFuzzer harnesses: a criticial or a warning reached from
 * hostile input is a bug, so it aborts (libFuzzer then saves the input);
 * debug and info chatter is dropped, it only slows the fuzzer down. */
static GLogWriterOutput
fuzz_log_writer (GLogLevelFlags   log_level,
                 const GLogField *fields,
                 gsize            n_fields,
                 gpointer         user_data)
{
  if (log_level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING))
    {
      g_log_writer_standard_streams (log_level, fields, n_fields, user_data);
      abort ();
    }

  return G_LOG_WRITER_HANDLED;
}

static inline void
fuzz_init_logging (void)
{
  g_log_set_always_fatal (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING);
  g_log_set_writer_func (fuzz_log_writer, NULL, NULL);
}

/* Every string a decoder hands out is valid UTF-8: the UI shows them as is. */
static inline void
fuzz_check_utf8 (const char *what,
                 const char *str)
{
  if (str != NULL && !g_utf8_validate (str, -1, NULL))
    {
      fprintf (stderr, "decoded frame: field %s is not valid UTF-8\n", what);
      abort ();
    }
}

static inline void
fuzz_check_frame (const TincanFrame *frame)
{
  if (frame == NULL ||
      frame->type <= TINCAN_FRAME_INVALID ||
      frame->type > TINCAN_FRAME_REPLY)
    {
      fprintf (stderr, "decoded frame: NULL or type %d out of range\n",
               frame != NULL ? (int) frame->type : -1);
      abort ();
    }

  fuzz_check_utf8 ("room", frame->room);
  fuzz_check_utf8 ("user", frame->user);
  fuzz_check_utf8 ("token", frame->token);
  fuzz_check_utf8 ("session", frame->session);
  fuzz_check_utf8 ("cid", frame->cid);
  fuzz_check_utf8 ("id", frame->id);
  fuzz_check_utf8 ("text", frame->text);
  fuzz_check_utf8 ("code", frame->code);
  fuzz_check_utf8 ("message", frame->message);
  for (guint i = 0; frame->rooms != NULL && frame->rooms[i] != NULL; i++)
    fuzz_check_utf8 ("rooms[]", frame->rooms[i]);
  for (guint i = 0; frame->users != NULL && frame->users[i] != NULL; i++)
    fuzz_check_utf8 ("users[]", frame->users[i]);
}
