-- wrk script for the POST row: every request is a changed 2025 summary for a mentor seeded before the run.
-- Arguments after "--": seeded mentor count, wrk thread count, first cycle number.
--
-- Thread t owns the mentors whose 0-based index is t modulo the thread count and walks them in turn, so no two
-- threads write one mentor, and a mentor's requests are a whole pass over the other mentors apart. Cycle c sends
-- total_hours = 601 + c + 0.25: above anything the seed stored (at most 600) and different on every pass, so each
-- request changes the summary, and the stored hours tell the harness how many passes reached each mentor.

local next_tid = 0

function setup(thread)
   thread:set("tid", next_tid)
   next_tid = next_tid + 1
end

function init(args)
   mentors = tonumber(args[1])
   threads = tonumber(args[2])
   first_cycle = tonumber(args[3])
   owned = math.floor((mentors - 1 - tid) / threads) + 1
   sent = 0
   wrk.method = "POST"
   wrk.headers["Content-Type"] = "application/json"
end

function request()
   local m = tid + threads * (sent % owned)
   local cycle = first_cycle + math.floor(sent / owned)
   sent = sent + 1
   local body = string.format(
      '{"mentor_id":"bench-%06d","period":{"year":2025,"start_date":"2025-01-01","end_date":"2025-12-31"},'
         .. '"summary":{"total_hours":%d.25,"unique_contacts_helped":%d,"activity_count":%d}}',
      m + 1, 601 + cycle, m % 121, (m * 7) % 401)
   return wrk.format(nil, nil, nil, body)
end
