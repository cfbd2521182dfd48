-- Nexmark q3, local item suggestion: sellers in OR, ID or CA of auctions in category 10.
--   SELECT P.name, P.city, P.state, A.id FROM auction A JOIN person P ON A.seller = P.id
--   WHERE A.category = 10 AND P.state IN ('OR', 'ID', 'CA')
-- A stream-stream inner join without a time bound, as in Nexmark: both sides stay in state.
local nx = dofile((arg[0]:match("^(.*)/") or ".") .. "/common.lua")
local events = nx.events_stream()
local auctions = events
  :filter(function(r) return r.auction ~= nil and r.auction.category == 10 end)
  :map(function(r) return { seller = r.auction.seller, id = r.auction.id } end)
local sellers = events
  :filter(function(r)
    local p = r.person
    return p ~= nil and (p.state == "OR" or p.state == "ID" or p.state == "CA")
  end)
  :map(function(r)
    local p = r.person
    return { seller = p.id, name = p.name, city = p.city, state = p.state }
  end)
nx.write(auctions:join(sellers, { on = "seller" }):select{ "name", "city", "state", "id" }, "q3")
