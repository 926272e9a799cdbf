#include "cli/args.h"

namespace vidproc::cli {

Result<Args> Args::Parse(int argc, char** argv, int first, const ArgSpec& spec) {
  Args args;
  bool options_done = false;
  for (int i = first; i < argc; ++i) {
    std::string a = argv[i];
    if (options_done || a.size() < 2 || a[0] != '-') {
      args.positional_.push_back(a);
      continue;
    }
    if (a == "--") {
      options_done = true;
      continue;
    }
    std::string name = a, value;
    bool has_inline_value = false;
    if (auto eq = a.find('='); eq != std::string::npos) {
      name = a.substr(0, eq);
      value = a.substr(eq + 1);
      has_inline_value = true;
    }
    if (name == "-h") name = "--help";
    if (auto alias = spec.aliases.find(name); alias != spec.aliases.end()) name = alias->second;
    if (spec.flags.count(name) || name == "--help") {
      if (has_inline_value) {
        return Status(ErrorCode::kInvalidArgument, "Option " + name + " takes no value.");
      }
      args.flags_.insert(name);
    } else if (spec.valued.count(name)) {
      if (!has_inline_value) {
        if (i + 1 >= argc)
          return Status(ErrorCode::kInvalidArgument, "Option " + name + " needs a value.");
        value = argv[++i];
      }
      args.values_[name] = value;
    } else {
      return Status(ErrorCode::kInvalidArgument, "Unknown option " + name + " (see --help).");
    }
  }
  return args;
}

std::optional<std::string> Args::get(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end()) return std::nullopt;
  return it->second;
}

}  // namespace vidproc::cli
