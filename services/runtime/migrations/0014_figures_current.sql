-- Reports (issue 10) at scale: what a figures answer reads stays small whatever the history and the open work.

-- A period's response times are its days' arrays end to end (percentiles are taken over them, never averaged).
CREATE AGGREGATE array_concat_agg (anycompatiblearray) (SFUNC = array_cat, STYPE = anycompatiblearray,
                                                         INITCOND = '{}');

-- The current state per manager, kept by the classifier's figures step (update_figures.py) in each batch's
-- transaction by the changes of that batch, instead of counted over every open task on every answer:
-- open tasks (by assignee), those of them with a due time, and interactions awaiting a person's confirmation.
-- Which of the due ones are overdue depends on the time asked: tasks_open_assignee_due finds the ones due later.
CREATE TABLE manager_current (
    manager_id text    PRIMARY KEY,
    tasks_open integer NOT NULL DEFAULT 0,
    tasks_due  integer NOT NULL DEFAULT 0,
    backlog    integer NOT NULL DEFAULT 0
);
INSERT INTO manager_current (manager_id, tasks_open, tasks_due, backlog)
SELECT manager_id, sum(tasks_open), sum(tasks_due), sum(backlog)
FROM (SELECT assignee_id AS manager_id, count(*) AS tasks_open, count(due_at) AS tasks_due, 0 AS backlog
      FROM tasks WHERE status = 'open' AND assignee_id IS NOT NULL GROUP BY assignee_id
      UNION ALL
      SELECT manager_id, 0, 0, count(*) FROM interactions
      WHERE manager_id IS NOT NULL AND outcome IS NULL AND NOT internal AND auto_status IS NOT NULL
        AND (kind = 'email' OR phase = 'ended')
      GROUP BY manager_id) AS counted
GROUP BY manager_id;

-- Open tasks by assignee and due time (it serves what tasks_open_assignee served, which it replaces).
CREATE INDEX tasks_open_assignee_due ON tasks (assignee_id, due_at) WHERE status = 'open';
DROP INDEX tasks_open_assignee;
-- The oldest interaction awaiting confirmation per manager: the first entry of its range.
CREATE INDEX interactions_awaiting_at ON interactions (manager_id, (coalesce(ended_at, started_at)))
    WHERE outcome IS NULL AND NOT internal AND auto_status IS NOT NULL AND (kind = 'email' OR phase = 'ended');
