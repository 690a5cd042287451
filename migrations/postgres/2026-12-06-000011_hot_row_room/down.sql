ALTER TABLE draw_chances RESET (fillfactor);
ALTER TABLE prizes RESET (fillfactor);
