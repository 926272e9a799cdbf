// A small command-line parser: positional arguments and --name value / --name=value options.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/status.h"

namespace vidproc::cli {

struct ArgSpec {
  std::set<std::string> valued;                     // options that take a value ("--preset")
  std::set<std::string> flags;                      // options that do not ("--force-encode")
  std::map<std::string, std::string> aliases = {};  // short spellings ("-y" -> "--overwrite")
};

class Args {
 public:
  // Parses argv[first..argc). Unknown options are an error naming the option.
  static Result<Args> Parse(int argc, char** argv, int first, const ArgSpec& spec);

  const std::vector<std::string>& positional() const { return positional_; }
  bool has(const std::string& name) const { return flags_.count(name) || values_.count(name); }
  std::optional<std::string> get(const std::string& name) const;

 private:
  std::vector<std::string> positional_;
  std::map<std::string, std::string> values_;
  std::set<std::string> flags_;
};

}  // namespace vidproc::cli
