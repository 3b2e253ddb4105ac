/* cli: the sked subcommands.  Each takes the arguments after its name (argv[0] is
 * the subcommand's own name) and returns the process exit code:
 *   0 success, 1 the operation failed (server said no, run failed),
 *   2 bad usage or bad input, 3 cannot reach the server or the store. */
#pragma once

enum {
        CLI_OK = 0,
        CLI_FAILED = 1,
        CLI_USAGE = 2,
        CLI_UNREACHABLE = 3,
};

int cli_preview(int argc, char **argv);
int cli_serve(int argc, char **argv);
int cli_type(int argc, char **argv);
int cli_series(int argc, char **argv);
int cli_runs(int argc, char **argv);
int cli_poller(int argc, char **argv);
int cli_nodes(int argc, char **argv);
int cli_calendar(int argc, char **argv);
int cli_features(int argc, char **argv);
int cli_user(int argc, char **argv);
int cli_token(int argc, char **argv);
int cli_audit(int argc, char **argv);
int cli_migrate(int argc, char **argv);
int cli_workflow(int argc, char **argv);
int cli_instance(int argc, char **argv);
