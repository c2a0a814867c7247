// algo.hpp - small generic helpers shared by the C++ modules.
#ifndef DEMO_CXX_ALGO_HPP
#define DEMO_CXX_ALGO_HPP

#include <algorithm>
#include <cstddef>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace demo {

// Joins the elements of a range with a separator, using to_text(element).
template <typename Range, typename F>
std::string join(const Range &r, const std::string &sep, F to_text)
{
    std::string out;
    bool first = true;
    for (const auto &x : r) {
        if (!first)
            out += sep;
        out += to_text(x);
        first = false;
    }
    return out;
}

inline std::string join(const std::vector<std::string> &r, const std::string &sep)
{
    return join(r, sep, [](const std::string &s) { return s; });
}

// Counts occurrences, returned sorted by count descending then key ascending.
template <typename T>
std::vector<std::pair<T, std::size_t>> ranked_counts(const std::vector<T> &items)
{
    std::map<T, std::size_t> counts;
    for (const auto &x : items)
        ++counts[x];
    std::vector<std::pair<T, std::size_t>> out(counts.begin(), counts.end());
    std::stable_sort(out.begin(), out.end(),
                     [](const auto &a, const auto &b) { return a.second > b.second; });
    return out;
}

template <typename Map, typename K, typename V>
V get_or(const Map &m, const K &key, V fallback)
{
    auto it = m.find(key);
    return it == m.end() ? fallback : it->second;
}

}  // namespace demo

#endif
