// graph.cpp - a directed weighted graph over string names: deterministic
// topological order (Kahn with an ordered ready set), Dijkstra shortest paths
// and strongly connected components (Tarjan).  Names are interned to dense ids.
#include <algorithm>
#include <functional>
#include <map>
#include <queue>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "demo/cxx/algo.hpp"
#include "demo/cxxapi.h"

namespace demo {
namespace {

class Graph {
public:
    void add_edge(const std::string &from, const std::string &to, long weight = 1)
    {
        std::size_t a = intern(from), b = intern(to);
        adj_[a].push_back({b, weight});
    }

    std::size_t size() const { return names_.size(); }

    // Ready nodes are taken in name order, so the result is unique.  False on a cycle.
    bool topo_order(std::vector<std::string> &order) const
    {
        std::vector<int> indegree(size(), 0);
        for (const auto &out : adj_)
            for (const auto &e : out)
                ++indegree[e.first];
        std::set<std::string> ready;
        for (std::size_t n = 0; n < size(); n++)
            if (indegree[n] == 0)
                ready.insert(names_[n]);
        order.clear();
        while (!ready.empty()) {
            std::string n = *ready.begin();
            ready.erase(ready.begin());
            order.push_back(n);
            for (const auto &e : adj_[ids_.at(n)])
                if (--indegree[e.first] == 0)
                    ready.insert(names_[e.first]);
        }
        return order.size() == size();
    }

    // Distance to every reachable node; -1 for the unreachable ones.
    std::vector<long> dijkstra(const std::string &src) const
    {
        std::vector<long> dist(size(), -1);
        using Item = std::pair<long, std::size_t>;
        std::priority_queue<Item, std::vector<Item>, std::greater<Item>> pq;
        pq.push({0, ids_.at(src)});
        while (!pq.empty()) {
            auto [d, n] = pq.top();
            pq.pop();
            if (dist[n] >= 0)
                continue;
            dist[n] = d;
            for (const auto &[m, w] : adj_[n])
                if (dist[m] < 0)
                    pq.push({d + w, m});
        }
        return dist;
    }

    long distance(const std::string &from, const std::string &to) const
    {
        return dijkstra(from)[ids_.at(to)];
    }

    // Each component as its sorted names joined by ',', the list sorted: a canonical answer.
    std::vector<std::string> components() const
    {
        Tarjan t(*this);
        for (std::size_t n = 0; n < size(); n++)
            if (t.index[n] < 0)
                t.visit(n);
        std::sort(t.out.begin(), t.out.end());
        return t.out;
    }

private:
    struct Tarjan {
        explicit Tarjan(const Graph &graph)
            : g(graph), index(graph.size(), -1), low(graph.size(), 0),
              on_stack(graph.size(), false)
        {
        }

        void visit(std::size_t v)
        {
            index[v] = low[v] = counter++;
            stack.push_back(v);
            on_stack[v] = true;
            for (const auto &e : g.adj_[v]) {
                std::size_t w = e.first;
                if (index[w] < 0) {
                    visit(w);
                    low[v] = std::min(low[v], low[w]);
                } else if (on_stack[w]) {
                    low[v] = std::min(low[v], index[w]);
                }
            }
            if (low[v] != index[v])
                return;
            std::vector<std::string> comp;
            std::size_t w;
            do {
                w = stack.back();
                stack.pop_back();
                on_stack[w] = false;
                comp.push_back(g.names_[w]);
            } while (w != v);
            std::sort(comp.begin(), comp.end());
            out.push_back(join(comp, ","));
        }

        const Graph &g;
        std::vector<int> index, low;
        std::vector<bool> on_stack;
        std::vector<std::size_t> stack;
        std::vector<std::string> out;
        int counter = 0;
    };

    std::size_t intern(const std::string &name)
    {
        auto [it, inserted] = ids_.insert({name, names_.size()});
        if (inserted) {
            names_.push_back(name);
            adj_.emplace_back();
        }
        return it->second;
    }

    std::vector<std::string> names_;
    std::map<std::string, std::size_t> ids_;
    std::vector<std::vector<std::pair<std::size_t, long>>> adj_;
};

}  // namespace
}  // namespace demo

namespace {

struct EdgeSpec {
    const char *from;
    const char *to;
    long weight;
};

demo::Graph make_graph(const EdgeSpec *edges, std::size_t n)
{
    demo::Graph g;
    for (std::size_t i = 0; i < n; i++)
        g.add_edge(edges[i].from, edges[i].to, edges[i].weight);
    return g;
}

}  // namespace

extern "C" void selftest_graph(demo_check *c)
{
    // a make-like dependency graph: edges point at dependents
    static const EdgeSpec build_edges[] = {
        {"util.h", "str.o", 1},    {"util.h", "vec.o", 1}, {"str.o", "libdemo.a", 1},
        {"vec.o", "libdemo.a", 1}, {"libdemo.a", "demo", 1}, {"main.o", "demo", 1},
    };
    demo::Graph build = make_graph(build_edges, sizeof build_edges / sizeof build_edges[0]);
    std::vector<std::string> order;
    CHECK(c, build.topo_order(order));
    CHECK_STR(c, demo::join(order, " ").c_str(), "main.o util.h str.o vec.o libdemo.a demo");
    build.add_edge("demo", "util.h");
    CHECK(c, !build.topo_order(order));
    auto sccs = build.components();
    CHECK_EQ(c, sccs.size(), 2);
    CHECK_STR(c, sccs[0].c_str(), "demo,libdemo.a,str.o,util.h,vec.o");
    CHECK_STR(c, sccs[1].c_str(), "main.o");

    static const EdgeSpec road_edges[] = {
        {"a", "b", 7},  {"a", "c", 9},  {"a", "f", 14}, {"b", "c", 10}, {"b", "d", 15},
        {"c", "d", 11}, {"c", "f", 2},  {"d", "e", 6},  {"f", "e", 9},
    };
    demo::Graph roads = make_graph(road_edges, sizeof road_edges / sizeof road_edges[0]);
    static const struct {
        const char *from, *to;
        long want;
    } trips[] = {{"a", "e", 20}, {"a", "d", 20}, {"a", "f", 11}, {"e", "a", -1}};
    for (const auto &t : trips)
        CHECK_EQ(c, roads.distance(t.from, t.to), t.want);
    CHECK_EQ(c, roads.size(), 6);
}
