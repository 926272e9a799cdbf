# Turns a file into a C++ source that defines `std::string_view NAME()` returning its bytes
# (the web page, embedded so the binary needs no files beside it).
# Usage: cmake -DINPUT=file -DOUTPUT=file.cc -DNAME=Function -DNAMESPACE=ns -DHEADER=x.h -P embed.cmake
file(READ "${INPUT}" hex HEX)
string(LENGTH "${hex}" hex_length)
math(EXPR size "${hex_length} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "'\\\\x\\1'," bytes "${hex}")
string(REGEX REPLACE "(('\\\\x[0-9a-f][0-9a-f]',){32})" "\\1\n" bytes "${bytes}")
file(WRITE "${OUTPUT}.tmp"
"// Generated from ${INPUT} by cmake/embed.cmake: do not edit.
#include \"${HEADER}\"

namespace ${NAMESPACE} {
namespace {
constexpr char kBytes[] = {
${bytes} '\\0'};
}  // namespace

std::string_view ${NAME}() { return std::string_view(kBytes, ${size}); }

}  // namespace ${NAMESPACE}
")
file(COPY_FILE "${OUTPUT}.tmp" "${OUTPUT}" ONLY_IF_DIFFERENT)
file(REMOVE "${OUTPUT}.tmp")
