// wordindex.cpp - an inverted index over small documents with boolean queries
// ("a AND b", "a OR b", "a NOT b") and ranking by term frequency.
#include <algorithm>
#include <iterator>
#include <map>
#include <numeric>
#include <string>
#include <vector>

#include "demo/cxx/algo.hpp"
#include "demo/cxxapi.h"
#include "demo/strutil.h"

namespace demo {
namespace {

using DocIds = std::vector<std::size_t>;  // always sorted, no duplicates

std::vector<std::string> split_words(const std::string &text, bool lower)
{
    std::vector<std::string> words;
    std::string cur;
    auto flush = [&] {
        if (!cur.empty()) {
            if (lower)
                str_lower(&cur[0]);  // the C helper from strutil
            words.push_back(cur);
            cur.clear();
        }
    };
    for (char ch : text) {
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9'))
            cur += ch;
        else
            flush();
    }
    flush();
    return words;
}

class Index {
public:
    std::size_t add(const std::string &text)
    {
        std::size_t id = docs_.size();
        docs_.push_back(split_words(text, true));
        for (const auto &w : docs_.back()) {
            auto &list = postings_[w];  // ids only grow, so the list stays sorted
            if (list.empty() || list.back().first != id)
                list.push_back({id, 0});
            ++list.back().second;
        }
        return id;
    }

    DocIds lookup(const std::string &word) const
    {
        DocIds ids;
        auto it = postings_.find(word);
        if (it != postings_.end())
            for (const auto &entry : it->second)
                ids.push_back(entry.first);
        return ids;
    }

    // Left-to-right evaluation of WORD ((AND|OR|NOT) WORD)*; AND is implied.
    DocIds query(const std::string &q) const
    {
        DocIds acc(docs_.size());
        std::iota(acc.begin(), acc.end(), std::size_t{0});
        std::string op = "AND";
        for (const auto &tok : split_words(q, false)) {
            if (tok == "AND" || tok == "OR" || tok == "NOT") {
                op = tok;
                continue;
            }
            std::string word = tok;
            str_lower(&word[0]);
            DocIds rhs = lookup(word), out;
            auto sink = std::back_inserter(out);
            if (op == "AND")
                std::set_intersection(acc.begin(), acc.end(), rhs.begin(), rhs.end(), sink);
            else if (op == "OR")
                std::set_union(acc.begin(), acc.end(), rhs.begin(), rhs.end(), sink);
            else
                std::set_difference(acc.begin(), acc.end(), rhs.begin(), rhs.end(), sink);
            acc.swap(out);
            op = "AND";
        }
        return acc;
    }

    // Documents containing any of the words, best total term frequency first.
    DocIds ranked(const std::vector<std::string> &words) const
    {
        std::vector<std::size_t> score(docs_.size(), 0);
        for (const auto &w : words) {
            auto it = postings_.find(w);
            if (it != postings_.end())
                for (const auto &[id, tf] : it->second)
                    score[id] += tf;
        }
        DocIds ids;
        for (std::size_t id = 0; id < score.size(); id++)
            if (score[id])
                ids.push_back(id);
        std::sort(ids.begin(), ids.end(), [&](std::size_t a, std::size_t b) {
            return score[a] != score[b] ? score[a] > score[b] : a < b;
        });
        return ids;
    }

    std::size_t vocabulary() const { return postings_.size(); }

    std::size_t total_words() const
    {
        std::size_t n = 0;
        for (const auto &d : docs_)
            n += d.size();
        return n;
    }

private:
    std::vector<std::vector<std::string>> docs_;
    // word -> (doc id, term frequency), by doc id
    std::map<std::string, std::vector<std::pair<std::size_t, std::size_t>>> postings_;
};

std::string ids(const DocIds &s)
{
    return join(s, ",", [](std::size_t i) { return std::to_string(i); });
}

}  // namespace
}  // namespace demo

extern "C" size_t demo_distinct_words(const char *text)
{
    auto words = demo::split_words(text, true);
    std::sort(words.begin(), words.end());
    return static_cast<size_t>(std::unique(words.begin(), words.end()) - words.begin());
}

extern "C" void selftest_wordindex(demo_check *c)
{
    demo::Index idx;
    idx.add("The compiler compiles the source file.");
    idx.add("A build system runs the compiler on every source file, in parallel.");
    idx.add("Distributed builds send each compile job to a cluster host.");
    idx.add("The linker and the archiver run locally; the build stays correct.");
    CHECK_STR(c, demo::ids(idx.lookup("compiler")).c_str(), "0,1");
    CHECK_STR(c, demo::ids(idx.query("the AND source")).c_str(), "0,1");
    CHECK_STR(c, demo::ids(idx.query("Compiler OR cluster")).c_str(), "0,1,2");
    CHECK_STR(c, demo::ids(idx.query("the NOT compiler")).c_str(), "3");
    CHECK_STR(c, demo::ids(idx.query("missing OR build")).c_str(), "1,3");
    auto r = idx.ranked({"the", "build"});
    CHECK(c, r == demo::DocIds({3, 0, 1}));
    CHECK_EQ(c, idx.total_words(), 39);
    CHECK_EQ(c, idx.vocabulary(), 29);
    CHECK_EQ(c, demo_distinct_words("To be, or not to BE."), 4);
}
