// Learning curves as an SVG picture: one panel per metric, a line per series, epochs along x.
// Small on purpose: enough for an example to show how training went, no plotting library needed.
#pragma once

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iomanip>
#include <locale>
#include <sstream>
#include <string>
#include <vector>

namespace svg {

struct Series {
  std::string label, color;
  std::vector<double> values;  // one per epoch, from epoch 1
};

struct Panel {
  std::string title;
  std::vector<Series> series;
};

// Panels side by side, each 420 x 300 pixels.
inline std::string plot(const std::vector<Panel>& panels) {
  constexpr double width = 420, height = 300, left = 60, right = 20, top = 40, bottom = 50;
  std::ostringstream out;
  out.imbue(std::locale::classic());  // 0.5, never 0,5: SVG's numbers whatever the user's locale
  out << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width * double(panels.size())
      << "\" height=\"" << height << "\" font-family=\"sans-serif\" font-size=\"12\">\n"
      << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  for (std::size_t p = 0; p < panels.size(); ++p) {
    const Panel& panel = panels[p];
    double lo = INFINITY, hi = -INFINITY;
    std::size_t epochs = 1;
    for (const Series& s : panel.series) {
      for (double v : s.values)
        lo = std::min(lo, v), hi = std::max(hi, v);
      epochs = std::max(epochs, s.values.size());
    }
    if (!(hi > lo)) hi = lo + 1;
    const double x0 = double(p) * width + left, x1 = double(p + 1) * width - right;
    const double y0 = height - bottom, y1 = top;
    auto x = [&](std::size_t e) {
      return x0 + (x1 - x0) * (epochs == 1 ? 0.5 : double(e) / double(epochs - 1));
    };
    auto y = [&](double v) { return y0 + (y1 - y0) * (v - lo) / (hi - lo); };
    out << "<text x=\"" << (x0 + x1) / 2 << "\" y=\"24\" text-anchor=\"middle\" font-size=\"14\">"
        << panel.title << "</text>\n"
        << "<line x1=\"" << x0 << "\" y1=\"" << y0 << "\" x2=\"" << x1 << "\" y2=\"" << y0
        << "\" stroke=\"black\"/>\n<line x1=\"" << x0 << "\" y1=\"" << y0 << "\" x2=\"" << x0
        << "\" y2=\"" << y1 << "\" stroke=\"black\"/>\n";
    for (int t = 0; t <= 4; ++t) {  // value ticks
      const double v = lo + (hi - lo) * t / 4;
      out << "<text x=\"" << x0 - 6 << "\" y=\"" << y(v) + 4 << "\" text-anchor=\"end\">"
          << std::setprecision(3) << v << "</text>\n";
    }
    out << "<text x=\"" << x0 << "\" y=\"" << y0 + 18 << "\" text-anchor=\"middle\">1</text>\n"
        << "<text x=\"" << x1 << "\" y=\"" << y0 + 18 << "\" text-anchor=\"middle\">" << epochs
        << "</text>\n<text x=\"" << (x0 + x1) / 2 << "\" y=\"" << y0 + 36
        << "\" text-anchor=\"middle\">epoch</text>\n";
    for (std::size_t k = 0; k < panel.series.size(); ++k) {
      const Series& s = panel.series[k];
      out << "<polyline fill=\"none\" stroke-width=\"2\" stroke=\"" << s.color << "\" points=\"";
      for (std::size_t e = 0; e < s.values.size(); ++e)
        out << x(e) << "," << y(s.values[e]) << " ";
      out << "\"/>\n<text x=\"" << x1 - 4 << "\" y=\"" << y1 + 16 * double(k + 1)
          << "\" text-anchor=\"end\" fill=\"" << s.color << "\">" << s.label << "</text>\n";
    }
  }
  out << "</svg>\n";
  return out.str();
}

}  // namespace svg
