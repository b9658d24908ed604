// The bank's own audit binary: the stock `annals` command line, plus what only
// this service's code knows — how to replay an account and how to render its
// FlatBuffers events as JSON.
//
//   bank_annals verify <store>
//   bank_annals read <store> account-ada
//   bank_annals replay <store> account-ada --aggregate account

#include "annals/aggregate.h"
#include "annals/cli.h"
#include "bank/account.h"
#include "bank/balances.h"

int main(int argc, char** argv) {
  annals::CliOptions options;
  options.aggregates.push_back({.name = "account",
                                .description = "a bank account",
                                .replay = &annals::ReplayToJson<bank::Account>});
  options.render_payload = bank::BankEvents().PayloadRenderer();
  options.projections.push_back(std::make_shared<bank::Balances>());
  return annals::RunCli(argc, argv, options);
}
