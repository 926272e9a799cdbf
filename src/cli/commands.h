#pragma once

namespace vidproc::cli {

// Each returns the process exit status (see ExitCodeFor).
int RunTranscode(int argc, char** argv);
int RunProbe(int argc, char** argv);
int RunWorker(int argc, char** argv);
int RunServe(int argc, char** argv);
int RunEnqueue(int argc, char** argv);
int RunStatus(int argc, char** argv);
int RunRetry(int argc, char** argv);
int RunConfig(int argc, char** argv);
int RunMigrate(int argc, char** argv);
int RunStorage(int argc, char** argv);
int RunBackup(int argc, char** argv);
// Not for users: the sandbox's escape attempts, for tests (sandbox_check_command.cc).
int RunSandboxCheck(int argc, char** argv);

}  // namespace vidproc::cli
