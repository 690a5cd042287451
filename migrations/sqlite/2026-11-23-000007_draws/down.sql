DROP TABLE raffle_winners;
DROP TABLE raffle_entries;
DROP TABLE raffles;
DROP TABLE prize_wins;
DROP TABLE draws;
DROP TABLE prizes;
