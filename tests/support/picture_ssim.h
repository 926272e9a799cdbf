// SSIM of two pictures as libavfilter's ssim filter computes it, for the tests and the
// benchmarks that compare the engine's pictures with a reference.
#pragma once

#include <cstdint>

extern "C" {
#include <libavutil/frame.h>
}

namespace vidproc::testing {

// SSIM of one 8-bit plane: 8x8 windows every 4 samples, as libavfilter's ssim filter takes them.
inline double PlaneSsim(const AVFrame* a, const AVFrame* b, int plane, int w, int h) {
  const double c1 = 0.01 * 255 * 0.01 * 255, c2 = 0.03 * 255 * 0.03 * 255;
  double total = 0;
  int windows = 0;
  for (int y0 = 0; y0 + 8 <= h; y0 += 4) {
    for (int x0 = 0; x0 + 8 <= w; x0 += 4) {
      double sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0;
      for (int y = y0; y < y0 + 8; ++y) {
        const uint8_t* ra = a->data[plane] + y * a->linesize[plane];
        const uint8_t* rb = b->data[plane] + y * b->linesize[plane];
        for (int x = x0; x < x0 + 8; ++x) {
          sa += ra[x];
          sb += rb[x];
          saa += ra[x] * ra[x];
          sbb += rb[x] * rb[x];
          sab += ra[x] * rb[x];
        }
      }
      double ma = sa / 64, mb = sb / 64;
      double va = saa / 64 - ma * ma, vb = sbb / 64 - mb * mb, cov = sab / 64 - ma * mb;
      total += (2 * ma * mb + c1) * (2 * cov + c2) / ((ma * ma + mb * mb + c1) * (va + vb + c2));
      ++windows;
    }
  }
  return windows ? total / windows : 0;
}

// SSIM of two yuv420p pictures, the planes weighted by their sample counts (4:1:1).
inline double Ssim(const AVFrame* a, const AVFrame* b) {
  int cw = (a->width + 1) / 2, ch = (a->height + 1) / 2;
  return (4 * PlaneSsim(a, b, 0, a->width, a->height) + PlaneSsim(a, b, 1, cw, ch) +
          PlaneSsim(a, b, 2, cw, ch)) /
         6;
}

}  // namespace vidproc::testing
