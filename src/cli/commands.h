#pragma once

namespace vidproc::cli {

// Each returns the process exit status (see ExitCodeFor).
int RunTranscode(int argc, char** argv);
int RunProbe(int argc, char** argv);

}  // namespace vidproc::cli
