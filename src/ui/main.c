/* SPDX-License-Identifier: GPL-3.0-or-later */
#define G_LOG_DOMAIN "tincan"

#include "config.h"

#include <glib/gi18n.h>
#include <locale.h>

#include "tincan-application.h"

int
main (int   argc,
      char *argv[])
{
  g_autoptr (TincanApplication) app = NULL;

  setlocale (LC_ALL, "");
  bindtextdomain (GETTEXT_PACKAGE, LOCALEDIR);
  bind_textdomain_codeset (GETTEXT_PACKAGE, "UTF-8");
  textdomain (GETTEXT_PACKAGE);

#ifdef TINCAN_BUILD_SCHEMA_DIR
  /* Running from the build tree: use the schema compiled next to it when
   * none is installed. */
  if (g_getenv ("GSETTINGS_SCHEMA_DIR") == NULL)
    {
      const char * const *dirs = g_get_system_data_dirs ();
      g_autofree char *user = g_build_filename (g_get_user_data_dir (), "glib-2.0", "schemas",
                                                "io.github.tincan.Tincan.gschema.xml", NULL);
      gboolean installed = g_file_test (user, G_FILE_TEST_EXISTS);

      /* Not the GSettings API: it would cache the schema sources now. */
      for (guint i = 0; !installed && dirs[i] != NULL; i++)
        {
          g_autofree char *path = g_build_filename (dirs[i], "glib-2.0", "schemas",
                                                    "io.github.tincan.Tincan.gschema.xml", NULL);

          installed = g_file_test (path, G_FILE_TEST_EXISTS);
        }

      if (!installed && g_file_test (TINCAN_BUILD_SCHEMA_DIR "/gschemas.compiled", G_FILE_TEST_EXISTS))
        g_setenv ("GSETTINGS_SCHEMA_DIR", TINCAN_BUILD_SCHEMA_DIR, TRUE);
    }
#endif

  app = tincan_application_new ();

  return g_application_run (G_APPLICATION (app), argc, argv);
}
