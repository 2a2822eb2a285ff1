/* SPDX-License-Identifier: MIT */
/* run: `tessera run SPEC [TARGET...]` — load, plan, execute, write outputs. */
#include "cmd/cmd.h"

int cmd_run(int argc, char **argv, struct err *e)
{
	struct spec_args a;
	struct loaded l = { 0 };
	int rc = cmd_parse("run", argc, argv, &a, e);
	if (rc != 0)
		goto out;
	rc = cmd_load(&a, &l, e);
	if (rc == 0)
		rc = sched_run(l.g, &l.plan, &a.run, NULL, NULL, e);
out:
	loaded_release(&l);
	spec_args_release(&a);
	return rc < 0 ? -1 : 0;
}
