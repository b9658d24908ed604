// The `annals` binary: the command line of docs/cli.md with the aggregates
// registered below (for `annals replay`).

#include "annals/cli.h"

int main(int argc, char** argv) {
  annals::CliOptions options;
  return annals::RunCli(argc, argv, options);
}
