"""ROS 2 adapter: the tracking node and what it is built from.

* :mod:`.track_node` -- the node's wiring (subscriptions, publishers, ``~/reset``, worker thread)
  and ``main``; :mod:`.session` -- what the worker does, without ROS: init on a buffered frame,
  catch-up, the backlog policy (``drain`` / ``latest``), LOST and re-detection;
* :mod:`.params` -- the parameter table (typed, described, checked); :mod:`.startup` -- threads,
  tracker creation and warm-up; :mod:`.topics` -- the one table of topic names;
* :mod:`.outputs` -- output messages from plain values; :mod:`.redetector` -- the template
  re-detector (numpy / OpenCV);
* :mod:`.conversions` (Image <-> numpy without cv_bridge), :mod:`.geometry` (bearing rays),
  :mod:`.qos`, :mod:`.frame_buffer`, :mod:`.handover`, :mod:`.init_requests`, :mod:`.stamps`,
  :mod:`.status` (IDLE / TRACKING / LOST and statistics).

Only this sub-package (and the bag tools above it) imports ROS; the tracking core knows nothing
of it. :mod:`.topics` and :mod:`.stamps` import no ROS, so the bag tools and launch files use them
freely.
"""
