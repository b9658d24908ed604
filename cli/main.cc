// The stock `annals` binary: the command line of docs/cli.md with no domain
// registered (replay knows no aggregate, events that are not JSON are written
// as base64). A service builds its own binary on RunCli() with its
// aggregates, event rendering and projections: examples/cafe_annals/ is the
// café's.

#include "annals/cli.h"

int main(int argc, char** argv) { return annals::RunCli(argc, argv); }
