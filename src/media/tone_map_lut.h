// HDR (BT.2020 PQ or HLG) to SDR (BT.709) as a table lookup on the already scaled picture.
//
// The float chain zscale (linear light) -> tonemap=hable -> zscale costs far more than the scale
// itself. Its result depends only on each pixel's (Y', Cb, Cr) code values (and on the stream's
// light-level metadata), so it is computed once for a lattice of code values by pushing that
// lattice through the very same chain, and then applied per pixel by interpolation: the look is
// the reference chain's by construction.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/status.h"

extern "C" {
#include <libavutil/frame.h>
}

namespace vidproc::media {

// The reference tone-mapping filters (libavfilter syntax) from the source's Y'CbCr to BT.709
// Y'CbCr, limited range. `resize` ("w=1280:h=720:f=bicubic:" or empty) goes into the first zscale.
std::string ReferenceToneMapFilters(const std::string& transfer, const std::string& resize);

class ToneMapLut {
 public:
  // Lattice points per axis (Y', Cb, Cr); the table is nodes^3 words (287 KB at 33). Measured
  // on 4K HDR phone footage (docs/BENCHMARKS.md): 17 gives SSIM 0.997 to the float chain at 4%
  // less CPU, 65 gives 0.998-0.999 at 5% more; 33 sits between (0.998).
  static constexpr int kDefaultNodes = 33;

  // The table for `transfer` ("arib-std-b67" is HLG, anything else PQ) and the light-level side
  // data of `like` (MaxCLL, mastering peak: they set the tone curve's peak). Tables are built once
  // per process for each transfer and metadata, and shared.
  static Result<std::shared_ptr<const ToneMapLut>> For(const std::string& transfer,
                                                       const AVFrame* like,
                                                       int nodes = kDefaultNodes);

  // Maps a yuv444p10le picture (the scaled source, still in its HDR encoding) to a new yuv420p
  // picture of the same size (BT.709, limited range), carrying over the timing and properties
  // of `in`. Full chroma in: the mapping of each pixel needs its own chroma, as the reference's
  // per-pixel RGB does; the 4:2:0 subsampling comes after it, as there.
  //
  // `kernel` is for tests and benchmarks: kAuto takes the fastest one this CPU runs; every kernel
  // gives the same output, bit for bit.
  enum class Kernel { kAuto, kScalar, kAvx2 };
  Status Apply(const AVFrame* in, AVFrame* out, Kernel kernel = Kernel::kAuto) const;

  // Whether this CPU (and this build) can run Kernel::kAvx2.
  static bool HasAvx2();

 private:
  // Where a 10-bit code falls on one axis: the lower lattice point's offset in the table and the
  // distance past it (0..256).
  struct AxisStep {
    uint32_t offset;
    uint32_t frac;
  };
  static constexpr int kCodes = 1024;

  explicit ToneMapLut(int nodes);
  static Result<std::shared_ptr<const ToneMapLut>> Build(bool hlg, const AVFrame* like, int nodes);
  // Y' out (8-bit) and Cb, Cr out (8-bit codes * 4096) of `w` pixels, by tetrahedral
  // interpolation.
  void MapRow(const uint16_t* y_in, const uint16_t* cb_in, const uint16_t* cr_in, int w,
              uint8_t* y_out, uint32_t* cb_out, uint32_t* cr_out) const;
  // The same for 8 pixels at a time, then MapRow for the rest.
  void MapRowAvx2(const uint16_t* y_in, const uint16_t* cb_in, const uint16_t* cr_in, int w,
                  uint8_t* y_out, uint32_t* cb_out, uint32_t* cr_out) const;

  int nodes_;
  // [cr node][cb node][y node]: BT.709 limited-range Y', Cb, Cr as 8-bit codes * 16, in 21-bit
  // lanes (bits 0, 21, 42), so one multiply weighs all three.
  std::vector<uint64_t> table_;
  // The same entries in 16-bit lanes (bits 0, 16, 32), the layout the AVX2 kernel multiplies
  // with vpmaddwd (weights and entries fit 16 bits; the lanes of table_ do not).
  std::vector<uint64_t> table16_;
  std::vector<AxisStep> y_steps_, cb_steps_, cr_steps_;  // per 10-bit code
};

}  // namespace vidproc::media
